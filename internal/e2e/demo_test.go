package e2e

import (
	"bytes"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"path"
	"testing"

	"github.com/modelgate/modelgate/internal/demo"
)

func TestDemoDownloads(t *testing.T) {
	suiteFor(t)
	// The demo needs no credentials. The environment only keeps the AWS
	// SDK away from instance metadata and the caller's configuration.
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	g := startProcess(t, env, func(addr string) []string {
		return []string{"demo", "--listen", addr, "--log-format", "json"}
	})

	_, curlErr := exec.LookPath("curl")
	for _, f := range demo.Files() {
		if f.Path != "config.json" && f.Path != "model.safetensors" {
			continue
		}
		t.Run(f.Path, func(t *testing.T) {
			rawURL := g.URL + "/" + demo.Model + "/resolve/main/" + f.Path
			var name string
			var body []byte
			if curlErr == nil {
				name, body = downloadWithCurl(t, rawURL)
			} else {
				name, body = downloadWithGo(t, g, rawURL)
			}
			if want := path.Base(f.Path); name != want {
				t.Errorf("saved as %q, want %q", name, want)
			}
			if !bytes.Equal(body, f.Body) {
				t.Errorf("downloaded %d bytes that differ from the %d "+
					"seeded", len(body), len(f.Body))
			}
		})
	}
}

// downloadWithGo downloads rawURL with net/http, following redirects.
// It returns the body and the filename from the Content-Disposition
// header, or the last element of the final URL's path without one.
func downloadWithGo(tb testing.TB, g *gateway, rawURL string) (string,
	[]byte,
) {
	tb.Helper()
	resp, body := do(tb, g.client(),
		newRequest(tb, http.MethodGet, rawURL, nil))
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: status %d, want 200", rawURL, resp.StatusCode)
	}
	name := path.Base(resp.Request.URL.Path)
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if err == nil && params["filename"] != "" {
		name = params["filename"]
	}
	return name, body
}
