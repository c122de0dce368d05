package s3test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
)

// weedPackage is the main package of the SeaweedFS server.
const weedPackage = "github.com/seaweedfs/seaweedfs/weed"

// Binary returns the path of an executable SeaweedFS weed binary.
//
// If MODELGATE_WEED is set, Binary returns its value after checking that the
// file exists. Otherwise it builds the server from the weedbuild module next
// to this source file and caches the result under $MODELGATE_CACHE/bin, or
// under os.UserCacheDir()/modelgate/bin when MODELGATE_CACHE is unset. The
// binary's name contains a hash of weedbuild's go.mod and go.sum, so a
// version change builds a new one.
//
// A build needs the go command on PATH and the Go module proxy, and takes
// several minutes on a cold Go build cache. Binary is safe for concurrent use
// by several goroutines and processes: an exclusive file lock lets one
// caller build while the others wait for its result.
func Binary() (string, error) {
	if path := os.Getenv("MODELGATE_WEED"); path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("MODELGATE_WEED: %w", err)
		}
		return path, nil
	}

	moduleDir, err := weedbuildDir()
	if err != nil {
		return "", err
	}
	binDir, err := cacheBinDir()
	if err != nil {
		return "", err
	}
	hash, err := moduleHash(moduleDir)
	if err != nil {
		return "", err
	}
	return buildCached(moduleDir, filepath.Join(binDir, "weed-"+hash))
}

// weedbuildDir returns the weedbuild module directory next to this file.
func weedbuildDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("locate weedbuild: runtime.Caller failed")
	}
	dir := filepath.Join(filepath.Dir(file), "weedbuild")
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("locate weedbuild: %w", err)
	}
	return dir, nil
}

// cacheBinDir returns the directory for built binaries, creating it.
func cacheBinDir() (string, error) {
	root := os.Getenv("MODELGATE_CACHE")
	if root == "" {
		userCache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("cache dir: %w", err)
		}
		root = filepath.Join(userCache, "modelgate")
	}
	dir := filepath.Join(root, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	return dir, nil
}

// moduleHash returns a short hex hash of the module's go.mod and go.sum.
func moduleHash(moduleDir string) (string, error) {
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(moduleDir, name))
		if err != nil {
			return "", fmt.Errorf("hash weedbuild: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// buildCached builds the weed binary at target unless it already exists.
// It holds an exclusive lock on target+".lock" while it checks and builds.
func buildCached(moduleDir, target string) (string, error) {
	lock, err := os.OpenFile(target+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("build lock: %w", err)
	}
	defer lock.Close()
	// Closing the file releases the lock.
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("build lock %s: %w", lock.Name(), err)
	}

	if _, err := os.Stat(target); err == nil {
		return target, nil
	}
	if err := build(moduleDir, target); err != nil {
		return "", err
	}
	return target, nil
}

// build runs go build in moduleDir into a temporary directory and renames the
// binary to target, so a reader never sees a partly written file.
func build(moduleDir, target string) error {
	tmpDir, err := os.MkdirTemp(filepath.Dir(target), ".weed-build-*")
	if err != nil {
		return fmt.Errorf("build weed: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmpName := filepath.Join(tmpDir, "weed")

	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("build weed: %w (install Go or set "+
			"MODELGATE_WEED to a prebuilt weed binary)", err)
	}
	cmd := exec.Command(goCmd, "build", "-mod=readonly",
		"-ldflags=-s -w", "-o", tmpName, weedPackage)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build weed in %s: %w\n%s",
			moduleDir, err, output.Bytes())
	}
	if err := os.Rename(tmpName, target); err != nil {
		return fmt.Errorf("build weed: %w", err)
	}
	return nil
}
