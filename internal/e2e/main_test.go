package e2e

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/s3test"
)

// modelID is the model that the suite seeds into the bucket.
const modelID = "e2e/special-names"

// bigFile is the fixture of a few MiB. Its name contains a space and
// parentheses, so curl -J saves it under that name only when S3 sends the
// Content-Disposition that the pre-signed URL requests.
const bigFile = "weights/model (1).bin"

// fixture is one seeded file of modelID.
type fixture struct {
	Path string
	Body []byte
}

// suite is the state that TestMain sets up once for every test.
type suite struct {
	bin      string // the modelgate binary
	s3       *s3test.Server
	fixtures []fixture
}

// shared is set by TestMain before any test runs and never changed
// afterwards. It is nil in -short mode.
var shared *suite

// fixtures returns the files of modelID: names with spaces, '+', '=',
// '%', '?', '#', parentheses and non-ASCII characters, subfolders, a few
// MiB of random bytes, and a zero-byte file, which comes last because
// some clients stalled when a non-empty upload followed an empty one on
// the same connection.
func fixtures() []fixture {
	rng := rand.NewChaCha8([32]byte{'e', '2', 'e'})
	big := make([]byte, 3<<20+17)
	rng.Read(big)
	return []fixture{
		{"config.json", []byte(`{"model_type": "e2e"}` + "\n")},
		{"a b+c (1)=50%.bin", []byte("plus, equals, percent\x00\x01")},
		{"naïve/café ü.txt", []byte("Ceci n'est pas un modèle.\n")},
		{"日本語.json", []byte(`{"言語": "日本語"}` + "\n")},
		{"sub/dir/deep file.txt", []byte("three levels down\n")},
		{"literal %2F and %25.txt", []byte("percent escapes kept as text\n")},
		{"what?#&.txt", []byte("query and fragment characters\n")},
		{bigFile, big},
		{"empty.txt", nil},
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runSuite(m))
}

// runSuite builds the binary, starts the S3 server, seeds it, runs the
// tests and stops the server. It returns the process exit code.
func runSuite(m *testing.M) int {
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "modelgate-e2e-")
	if err != nil {
		log.Printf("e2e: %v", err)
		return 1
	}
	defer os.RemoveAll(dir)

	bin, err := buildBinary(dir)
	if err != nil {
		log.Printf("e2e: %v", err)
		return 1
	}
	srv, err := s3test.Start(s3test.Options{})
	if err != nil {
		log.Printf("e2e: %v", err)
		return 1
	}
	defer srv.Stop()

	fx := fixtures()
	if err := seed(srv, fx); err != nil {
		log.Printf("e2e: %v", err)
		return 1
	}
	shared = &suite{bin: bin, s3: srv, fixtures: fx}
	return m.Run()
}

// buildBinary builds cmd/modelgate into dir with the go command on PATH
// and returns the binary's path.
func buildBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "modelgate")
	cmd := exec.Command("go", "build", "-o", bin,
		"github.com/modelgate/modelgate/cmd/modelgate")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build modelgate: %w\n%s", err, out)
	}
	return bin, nil
}

// seed uploads every fixture under modelID as the admin identity.
func seed(srv *s3test.Server, fx []fixture) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, f := range fx {
		if err := srv.Put(ctx, modelID+"/"+f.Path, f.Body); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

// suiteFor returns the shared suite, or skips tb in -short mode.
func suiteFor(tb testing.TB) *suite {
	tb.Helper()
	if shared == nil {
		tb.Skip("end-to-end tests need the S3 server; skipped in -short mode")
	}
	return shared
}
