package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// bearerToken is the client token that the tests send. The gateway
// ignores it, and must not log it.
const bearerToken = "hf_secret123"

// secretsIn returns each secret that occurs in log: the S3 secret keys,
// the client's token, any name of a pre-signed URL's credential
// parameter, and every credential value of the URLs that g handed out,
// as they are and query-escaped.
func secretsIn(tb testing.TB, g *gateway, log string) []string {
	tb.Helper()
	s := suiteFor(tb)
	secrets := []string{s.s3.AdminSecretKey, s.s3.GatewaySecretKey,
		bearerToken}
	for _, v := range g.Locations.list() {
		secrets = append(secrets, v, url.QueryEscape(v))
	}
	var found []string
	seen := make(map[string]bool)
	for _, v := range secrets {
		if v != "" && !seen[v] && strings.Contains(log, v) {
			found = append(found, v)
		}
		seen[v] = true
	}
	lower := strings.ToLower(log)
	for _, p := range signedParams {
		if strings.Contains(lower, strings.ToLower(p)) {
			found = append(found, p)
		}
	}
	return found
}

// checkLogClean stops g and fails tb if its complete log contains a
// secret. It prints the log when tb has failed.
func checkLogClean(tb testing.TB, g *gateway) {
	tb.Helper()
	if err := g.stop(); err != nil {
		tb.Errorf("stop modelgate: %v", err)
	}
	log := g.log(tb)
	if found := secretsIn(tb, g, log); len(found) > 0 {
		tb.Errorf("modelgate's log contains %d secrets: %q", len(found),
			found)
	}
	if tb.Failed() {
		tb.Logf("modelgate's log:\n%s", log)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	s := suiteFor(t)
	g := startGateway(t, "--log-level", "debug")
	auth := http.Header{
		"Authorization": {"Bearer " + bearerToken},
		"Cookie":        {"token=" + bearerToken},
	}
	sent := 0
	send := func(method, rawURL string, client *http.Client) {
		t.Helper()
		do(t, client, newRequest(t, method, rawURL, auth))
		sent++
	}
	for _, f := range s.fixtures {
		u := g.resolveURL(escapeSegments(f.Path))
		send(http.MethodGet, u, g.client())
		send(http.MethodGet, u+"?token="+bearerToken, g.noRedirectClient())
		send(http.MethodHead, u, g.client())
	}
	for _, p := range []string{
		"/" + modelID + "/resolve/main/no-such-file",
		"/" + modelID + "/resolve/main/..%2Fx?token=" + bearerToken,
		"/e2e/no-such-model/resolve/main/config.json",
		"/api/models",
		"/api/models/" + modelID,
		"/api/models/" + modelID + "/tree/main?recursive=true",
		"/api/models/" + modelID + "/revision/main?token=" + bearerToken,
		"/api/no-such-endpoint",
		"/metrics",
	} {
		send(http.MethodGet, g.URL+p, g.noRedirectClient())
	}
	if len(g.Locations.list()) == 0 {
		t.Fatal("no pre-signed URL was handed out; the check below " +
			"would prove nothing")
	}

	code := stopAndWait(t, g)
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	log := g.log(t)
	if got := countAccessRecords(t, log); got != sent {
		t.Errorf("log has %d access records for other paths than "+
			"/readyz, want one for each of the %d requests", got, sent)
	}
	if found := secretsIn(t, g, log); len(found) > 0 {
		t.Errorf("modelgate's log contains %d secrets: %q", len(found),
			found)
	}
}

// stopAndWait stops g and returns its exit code.
func stopAndWait(tb testing.TB, g *gateway) int {
	tb.Helper()
	if err := g.stop(); err != nil {
		tb.Fatal(err)
	}
	code, err := g.wait(stopTimeout)
	if err != nil {
		tb.Fatal(err)
	}
	return code
}

// countAccessRecords parses log as JSON lines and counts the access-log
// records of requests for other paths than /readyz.
func countAccessRecords(tb testing.TB, log string) int {
	tb.Helper()
	n := 0
	for _, line := range bytes.Split([]byte(log), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec struct {
			Msg  string `json:"msg"`
			Path string `json:"path"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			tb.Errorf("log line %q is not JSON: %v", line, err)
			continue
		}
		if rec.Msg == "request" && rec.Path != "/readyz" {
			n++
		}
	}
	return n
}
