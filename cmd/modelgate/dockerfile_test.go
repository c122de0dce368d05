package main

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// No Docker engine is needed: these tests read the Dockerfile, run its
// go build line with the same flags and environment, and check the
// binary that the image would contain.

// dockerVersion is the VERSION build argument the tests pass.
const dockerVersion = "v9.9.9-dockerfile-test"

// repoRoot returns the repository root, two levels above this package.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		tb.Fatalf("repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		tb.Fatalf("repository root %s has no go.mod: %v", root, err)
	}
	return root
}

func readDockerfile(tb testing.TB) *dockerfile {
	tb.Helper()
	text, err := os.ReadFile(filepath.Join(repoRoot(tb), "Dockerfile"))
	if err != nil {
		tb.Fatalf("read Dockerfile: %v", err)
	}
	df, err := parseDockerfile(string(text))
	if err != nil {
		tb.Fatalf("parse Dockerfile: %v", err)
	}
	return df
}

// dockerBuildArgs returns the --build-arg values the tests build with:
// the test version, and the host platform as the target.
func dockerBuildArgs() map[string]string {
	return map[string]string{
		"VERSION":    dockerVersion,
		"TARGETOS":   runtime.GOOS,
		"TARGETARCH": runtime.GOARCH,
	}
}

// dockerGoBuild is the go build command of the Dockerfile's build stage.
type dockerGoBuild struct {
	env    []string // KEY=VALUE from ARG, ENV and the RUN assignments
	args   []string // the arguments after "go"
	output string   // the -o path inside the build stage
}

// findGoBuild returns the one RUN of the build stage that runs go build,
// with the environment Docker would give it.
func findGoBuild(df *dockerfile, buildArgs map[string]string) (
	dockerGoBuild, error,
) {
	st, err := df.stage("build")
	if err != nil {
		return dockerGoBuild{}, err
	}
	var found []dockerGoBuild
	err = df.walk(st, buildArgs, func(in dockerInstruction,
		scope *dockerScope,
	) error {
		if in.keyword != "RUN" || !strings.Contains(in.args, "go build") {
			return nil
		}
		gb, err := parseGoBuildRun(in.args, scope)
		if err != nil {
			return err
		}
		found = append(found, gb)
		return nil
	})
	if err != nil {
		return dockerGoBuild{}, err
	}
	if len(found) != 1 {
		return dockerGoBuild{}, fmt.Errorf("build stage has %d RUN lines "+
			"with go build, want 1", len(found))
	}
	return found[0], nil
}

// parseGoBuildRun splits a RUN line into its leading NAME=VALUE
// assignments and a single go build command.
func parseGoBuildRun(args string, scope *dockerScope) (dockerGoBuild, error) {
	words, err := shellWords(args, scope.vars)
	if err != nil {
		return dockerGoBuild{}, err
	}
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		words = words[1:] // RUN options such as --mount
	}
	gb := dockerGoBuild{env: scope.environ()}
	assignment := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	for len(words) > 0 && assignment.MatchString(words[0]) {
		gb.env = append(gb.env, words[0])
		words = words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		return dockerGoBuild{}, fmt.Errorf("%q is not a plain go build "+
			"command", args)
	}
	gb.args = words[1:]
	for i, w := range gb.args {
		if w == "-o" && i+1 < len(gb.args) {
			gb.output = gb.args[i+1]
		}
	}
	if gb.output == "" {
		return dockerGoBuild{}, fmt.Errorf("%q has no -o OUTPUT", args)
	}
	return gb, nil
}

// withOutput returns the go arguments with the -o path replaced.
func (gb dockerGoBuild) withOutput(path string) []string {
	args := append([]string(nil), gb.args...)
	for i := range args {
		if args[i] == "-o" {
			args[i+1] = path
		}
	}
	return args
}

// envValue returns the last value of name in env, as exec.Cmd uses it.
func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, _ := strings.Cut(kv, "="); k == name {
			v = val
		}
	}
	return v
}

// buildFromDockerfile builds the binary as the Dockerfile's build stage
// does and returns its path.
func buildFromDockerfile(tb testing.TB, gb dockerGoBuild) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "modelgate")
	cmd := exec.Command("go", gb.withOutput(bin)...)
	cmd.Dir = repoRoot(tb)
	// Later entries win, so the Dockerfile's values override the host's.
	cmd.Env = append(os.Environ(), gb.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	return bin
}

func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image is Linux: the ELF checks need a Linux host")
	}
	gb, err := findGoBuild(readDockerfile(t), dockerBuildArgs())
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if got := envValue(gb.env, "CGO_ENABLED"); got != "0" {
		t.Fatalf("Dockerfile build sets CGO_ENABLED=%q, want 0", got)
	}
	bin := buildFromDockerfile(t, gb)

	t.Run("build settings", func(t *testing.T) {
		checkBuildSettings(t, bin)
	})
	t.Run("static and stripped ELF", func(t *testing.T) {
		checkStaticELF(t, bin)
	})
	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --version: %v\n%s", bin, err, out)
		}
		if want := "modelgate " + dockerVersion + "\n"; string(out) != want {
			t.Errorf("--version printed %q, want %q", out, want)
		}
	})
	t.Run("healthcheck", func(t *testing.T) {
		checkImageHealthcheck(t, bin, readDockerfile(t))
	})
}

// checkBuildSettings checks the build settings Go records in bin.
func checkBuildSettings(t *testing.T, bin string) {
	t.Helper()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("read build info of %s: %v", bin, err)
	}
	settings := make(map[string]string)
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	want := map[string]string{
		"CGO_ENABLED": "0",
		"-trimpath":   "true",
		"GOOS":        runtime.GOOS,
	}
	for key, value := range want {
		if settings[key] != value {
			t.Errorf("build setting %s = %q, want %q", key,
				settings[key], value)
		}
	}
	if info.Path != "github.com/modelgate/modelgate/cmd/modelgate" {
		t.Errorf("build info path = %q, want the modelgate command",
			info.Path)
	}
}

// checkStaticELF checks that bin needs no dynamic loader or shared
// library, and that -s -w left no symbol table or DWARF data.
func checkStaticELF(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("open ELF %s: %v", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a PT_INTERP header: it is dynamically linked",
				bin)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("read imported libraries: %v", err)
	}
	if len(libs) != 0 {
		t.Errorf("%s imports shared libraries %q, want none", bin, libs)
	}
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") ||
			strings.HasPrefix(s.Name, ".zdebug_") {
			t.Errorf("%s has section %s; -s -w should strip it", bin, s.Name)
		}
	}
}

// checkImageHealthcheck runs the HEALTHCHECK command of the image, with
// bin in place of the image path, against a healthy and an unhealthy
// server.
func checkImageHealthcheck(t *testing.T, bin string, df *dockerfile) {
	t.Helper()
	argv := imageHealthcheck(t, df)
	for _, tt := range []struct {
		status   int
		wantCode int
	}{{200, 0}, {503, 1}} {
		cmd := exec.Command(bin, argv[1:]...)
		cmd.Env = append(os.Environ(), "MODELGATE_HEALTHCHECK_URL="+
			statusServer(t, tt.status)+"/healthz")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if err != nil && code < 0 {
			t.Fatalf("run %q: %v", argv, err)
		}
		if code != tt.wantCode {
			t.Errorf("HEALTHCHECK %q against a %d server exited %d, "+
				"want %d; output: %s", argv, tt.status, code,
				tt.wantCode, out.String())
		}
	}
}

// imageHealthcheck returns the exec-form command of the final stage's
// HEALTHCHECK.
func imageHealthcheck(tb testing.TB, df *dockerfile) []string {
	tb.Helper()
	st, err := df.stage("")
	if err != nil {
		tb.Fatalf("Dockerfile: %v", err)
	}
	for _, in := range st.instrs {
		if in.keyword != "HEALTHCHECK" {
			continue
		}
		_, cmd, ok := strings.Cut(in.args, "CMD ")
		if !ok {
			tb.Fatalf("line %d: HEALTHCHECK without CMD", in.line)
		}
		argv, err := execForm(strings.TrimSpace(cmd))
		if err != nil {
			tb.Fatalf("line %d: HEALTHCHECK: %v", in.line, err)
		}
		return argv
	}
	tb.Fatalf("the final stage has no HEALTHCHECK")
	return nil
}

// imageConfig is what the final stage sets, with build arguments
// expanded.
type imageConfig struct {
	from       string
	copies     map[string]string // destination to source, --from=build
	user       string
	env        map[string]string
	labels     map[string]string
	expose     []string
	entrypoint []string
	cmd        []string
}

func readImageConfig(tb testing.TB, df *dockerfile) imageConfig {
	tb.Helper()
	st, err := df.stage("")
	if err != nil {
		tb.Fatalf("Dockerfile: %v", err)
	}
	ic := imageConfig{from: st.from, copies: map[string]string{},
		labels: map[string]string{}}
	err = df.walk(st, dockerBuildArgs(), func(in dockerInstruction,
		scope *dockerScope,
	) error {
		return ic.apply(in, scope)
	})
	if err != nil {
		tb.Fatalf("Dockerfile: %v", err)
	}
	return ic
}

// apply records one instruction of the final stage.
func (ic *imageConfig) apply(in dockerInstruction, scope *dockerScope) error {
	var err error
	switch in.keyword {
	case "COPY":
		words := strings.Fields(in.args)
		if len(words) == 3 && words[0] == "--from=build" {
			ic.copies[words[2]] = words[1]
		}
	case "USER":
		ic.user = in.args
	case "ENV":
		ic.env = scope.vars
	case "EXPOSE":
		ic.expose = append(ic.expose, strings.Fields(in.args)...)
	case "LABEL":
		var words []string
		words, err = shellWords(in.args, scope.vars)
		for _, w := range words {
			k, v, _ := strings.Cut(w, "=")
			ic.labels[k] = v
		}
	case "ENTRYPOINT":
		ic.entrypoint, err = execForm(in.args)
	case "CMD":
		ic.cmd, err = execForm(in.args)
	}
	return err
}

func TestDockerfileImage(t *testing.T) {
	df := readDockerfile(t)
	gb, err := findGoBuild(df, dockerBuildArgs())
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	ic := readImageConfig(t, df)

	t.Run("base image", func(t *testing.T) {
		if ic.from != "scratch" &&
			!strings.HasPrefix(ic.from, "gcr.io/distroless/static") {
			t.Errorf("final stage FROM %s, want distroless static or "+
				"scratch", ic.from)
		}
	})
	t.Run("entrypoint runs the built binary", func(t *testing.T) {
		checkEntrypoint(t, ic, gb.output, imageHealthcheck(t, df))
	})
	t.Run("numeric non-root user", func(t *testing.T) {
		uid, _, _ := strings.Cut(ic.user, ":")
		n, err := strconv.Atoi(uid)
		if err != nil || n == 0 {
			t.Errorf("USER %q, want a numeric non-zero uid", ic.user)
		}
	})
	t.Run("OCI labels", func(t *testing.T) {
		checkLabels(t, ic.labels)
	})
	t.Run("listen port", func(t *testing.T) {
		checkImagePort(t, ic)
	})
	t.Run("Go version matches go.mod", func(t *testing.T) {
		checkGoVersion(t, df)
	})
}

func checkEntrypoint(t *testing.T, ic imageConfig, built string,
	health []string,
) {
	t.Helper()
	if len(ic.entrypoint) != 1 {
		t.Fatalf("ENTRYPOINT %q, want the binary alone", ic.entrypoint)
	}
	path := ic.entrypoint[0]
	if src := ic.copies[path]; src != built {
		t.Errorf("ENTRYPOINT %s is copied from %q, want the go build "+
			"output %q", path, src, built)
	}
	if len(ic.cmd) != 1 || ic.cmd[0] != "serve" {
		t.Errorf("CMD %q, want [\"serve\"]", ic.cmd)
	}
	if len(health) < 2 || health[0] != path || health[1] != "healthcheck" {
		t.Errorf("HEALTHCHECK CMD %q, want [%q, \"healthcheck\", ...]",
			health, path)
	}
}

func checkLabels(t *testing.T, labels map[string]string) {
	t.Helper()
	for _, key := range []string{"title", "description", "source",
		"revision"} {
		if _, ok := labels["org.opencontainers.image."+key]; !ok {
			t.Errorf("no label org.opencontainers.image.%s", key)
		}
	}
	if got := labels["org.opencontainers.image.version"]; got != dockerVersion {
		t.Errorf("label org.opencontainers.image.version = %q, want the "+
			"VERSION build argument %q", got, dockerVersion)
	}
	for key := range labels {
		if !strings.HasPrefix(key, "org.opencontainers.image.") {
			t.Errorf("label %q is outside org.opencontainers.image.*", key)
		}
	}
}

// checkImagePort checks that the image's MODELGATE_LISTEN port is the one
// it exposes and the one the healthcheck probes by default.
func checkImagePort(t *testing.T, ic imageConfig) {
	t.Helper()
	listen := ic.env["MODELGATE_LISTEN"]
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("image MODELGATE_LISTEN=%q is not host:port: %v",
			listen, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("image listens on %q, unreachable from outside the "+
			"container; want all addresses", listen)
	}
	if len(ic.expose) != 1 || ic.expose[0] != port {
		t.Errorf("EXPOSE %q, want [%q] from MODELGATE_LISTEN", ic.expose,
			port)
	}

	var o healthcheckOptions
	fs := newFlagSet("healthcheck", "", &bytes.Buffer{})
	o.register(fs)
	u, err := url.Parse(fs.Lookup("url").DefValue)
	if err != nil {
		t.Fatalf("healthcheck --url default: %v", err)
	}
	if u.Port() != port {
		t.Errorf("healthcheck probes port %s by default, but the image "+
			"listens on %s", u.Port(), port)
	}
}

// checkGoVersion checks that the GO_VERSION build argument is the go
// version go.mod requires.
func checkGoVersion(t *testing.T, df *dockerfile) {
	t.Helper()
	mod, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatalf("read go.mod: %v", err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatalf("go.mod has no go line")
	}
	if got := df.globalArgs["GO_VERSION"]; got != string(m[1]) {
		t.Errorf("Dockerfile GO_VERSION = %q, want %q from go.mod",
			got, m[1])
	}
}
