package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestReadyzHidesInternals starts serve against an S3 endpoint that
// refuses connections and checks that /readyz gives fixed phrases, while
// the log keeps the details that name the endpoint.
func TestReadyzHidesInternals(t *testing.T) {
	closed := strings.TrimSuffix(closedPortURL(t), "/healthz")
	addr := freeAddr(t)
	p := startMain(t, []string{"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret"},
		"serve", "--listen", addr, "--bucket", "models",
		"--s3-endpoint", closed, "--s3-path-style",
		"--write-check-timeout", "1s", "--refresh-interval", "1s")

	body := waitFor(t, p, addr, func(status int, body string) bool {
		return status == http.StatusServiceUnavailable &&
			strings.Contains(body, "write check not done:")
	})
	for _, want := range []string{"catalog not loaded yet",
		"credentials: write check not done: S3 unreachable"} {
		if !strings.Contains(body, want) {
			t.Errorf("/readyz = %s, want the phrase %q", body, want)
		}
	}
	host := strings.TrimPrefix(closed, "http://")
	for _, internal := range []string{host, "models",
		"modelgate-write-probe"} {
		if strings.Contains(body, internal) {
			t.Errorf("/readyz = %s, shows the internal detail %q", body,
				internal)
		}
	}
	// The log names the endpoint.
	waitForOutput(t, p, host)
}
