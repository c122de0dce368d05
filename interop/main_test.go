package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/modelgate/modelgate/internal/s3test"
)

// suite is what TestMain sets up once for every test in the package:
// the gateway binary and one S3 server. Tests only read it.
type suite struct {
	gatewayBin string
	s3         *s3test.Server
}

// shared is set by TestMain before any test runs and never changed
// afterwards.
var shared suite

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// The gateway builds a default AWS configuration; it must never
	// reach for instance metadata.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	dir, err := os.MkdirTemp("", "modelgate-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "modelgate")
	build := exec.Command("go", "build", "-o", bin,
		"github.com/modelgate/modelgate/cmd/modelgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "interop: build modelgate:", err)
		return 1
	}

	s3, err := s3test.Start(s3test.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	defer func() {
		if err := s3.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "interop: stop S3 server:", err)
		}
	}()

	shared = suite{gatewayBin: bin, s3: s3}
	return m.Run()
}
