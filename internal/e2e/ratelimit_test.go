package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// testBurst is the burst of both budgets in the rate-limit tests.
	testBurst = 3

	// slowRate is one token per 100 seconds, so a drained budget stays
	// drained for the whole of a test, however slow the machine.
	slowRate = "0.01"

	// slowPolicy is the RateLimit-Policy of testBurst at slowRate: 3
	// tokens refilled in 300 seconds.
	slowPolicy = "3;w=300"

	// partnerToken is the bearer token listed in the test token file.
	partnerToken = "hf_partner4f9a2c"

	// partnerBurst is the download and API burst of the partner tier.
	partnerBurst = 10
)

// limitFlags returns the flags that give both budgets testBurst tokens
// refilled at rate tokens per second.
func limitFlags(rate string, extra ...string) []string {
	burst := strconv.Itoa(testBurst)
	flags := []string{"--rate-download", rate, "--burst-download", burst,
		"--rate-api", rate, "--burst-api", burst}
	return append(flags, extra...)
}

// send makes one request to g without following redirects and returns
// the response with its body read.
func send(tb testing.TB, g *gateway, method, rawURL string,
	header http.Header,
) (*http.Response, []byte) {
	tb.Helper()
	return do(tb, g.noRedirectClient(), newRequest(tb, method, rawURL,
		header))
}

// drain sends GET requests for rawURL with header until one is rejected
// with 429, and returns the number allowed and the rejection. It fails
// tb unless the first testBurst requests are allowed, with 302 or 200,
// and a rejection follows within 5 more.
func drain(tb testing.TB, g *gateway, rawURL string,
	header http.Header,
) (int, *http.Response, []byte) {
	tb.Helper()
	for i := range testBurst + 5 {
		resp, body := send(tb, g, http.MethodGet, rawURL, header)
		if resp.StatusCode == http.StatusTooManyRequests {
			if i < testBurst {
				tb.Fatalf("GET %s: request %d of a burst of %d got 429",
					rawURL, i+1, testBurst)
			}
			return i, resp, body
		}
		if resp.StatusCode != http.StatusFound &&
			resp.StatusCode != http.StatusOK {
			tb.Fatalf("GET %s: status %d, want 302, 200 or 429; body %q",
				rawURL, resp.StatusCode, body)
		}
	}
	tb.Fatalf("GET %s: %d requests allowed, want a 429 after %d", rawURL,
		testBurst+5, testBurst)
	return 0, nil, nil
}

// checkLimited fails tb unless resp is a 429 JSON error with the
// rate-limit fields of a drained bucket of testBurst tokens, and returns
// its Retry-After.
func checkLimited(tb testing.TB, resp *http.Response, body []byte,
	policy string,
) time.Duration {
	tb.Helper()
	checkJSONError(tb, resp, body, http.StatusTooManyRequests)
	h := resp.Header
	if got := h.Get("X-Error-Code"); got != "RateLimited" {
		tb.Errorf("X-Error-Code = %q, want RateLimited", got)
	}
	for name, want := range map[string]string{
		"RateLimit-Limit":     strconv.Itoa(testBurst),
		"RateLimit-Remaining": "0",
		"RateLimit-Policy":    policy,
	} {
		if got := h.Get(name); got != want {
			tb.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if reset, err := strconv.Atoi(h.Get("RateLimit-Reset")); err != nil ||
		reset < 1 {
		tb.Errorf("RateLimit-Reset = %q, want whole seconds, at least 1",
			h.Get("RateLimit-Reset"))
	}
	values := h.Values("Retry-After")
	if len(values) != 1 {
		tb.Fatalf("Retry-After = %q, want one value", values)
	}
	secs, err := strconv.Atoi(values[0])
	if err != nil || secs < 1 {
		tb.Fatalf("Retry-After = %q, want whole seconds, at least 1",
			values[0])
	}
	return time.Duration(secs) * time.Second
}

func TestRateLimitRetryAfter(t *testing.T) {
	suiteFor(t)
	g := startGateway(t, limitFlags("1")...)
	u := g.resolveURL("config.json")

	_, resp, body := drain(t, g, u, nil)
	retry := checkLimited(t, resp, body, "3;w=3")
	if retry > 5*time.Second {
		t.Fatalf("Retry-After = %v, want at most 5s at 1 token/s", retry)
	}

	time.Sleep(retry)
	resp, body = send(t, g, http.MethodGet, u, nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET after Retry-After %v: status %d, want 302; body %q",
			retry, resp.StatusCode, body)
	}
	if got := resp.Header.Get("RateLimit-Limit"); got != "3" {
		t.Errorf("RateLimit-Limit of the retry = %q, want 3", got)
	}
	if got := resp.Header.Values("Retry-After"); len(got) != 0 {
		t.Errorf("Retry-After of the retry = %q, want none", got)
	}
}

// forgedHeaders are client address headers that a client can send to
// pose as another client.
func forgedHeaders() []http.Header {
	return []http.Header{
		{"X-Forwarded-For": {"198.51.100.7"}},
		{"X-Forwarded-For": {"198.51.100.8, 203.0.113.9"}},
		{"X-Real-Ip": {"198.51.100.9"}},
		{"True-Client-Ip": {"198.51.100.10"}},
		{"Forwarded": {"for=198.51.100.11"}},
		{"X-Forwarded-For": {"198.51.100.12"},
			"X-Real-Ip":      {"198.51.100.13"},
			"True-Client-Ip": {"198.51.100.14"},
			"Forwarded":      {"for=198.51.100.15"}},
	}
}

func TestRateLimitIgnoresForgedClientHeaders(t *testing.T) {
	suiteFor(t)
	g := startGateway(t, limitFlags(slowRate)...)
	u := g.resolveURL("config.json")

	_, resp, body := drain(t, g, u, forgedHeaders()[0])
	checkLimited(t, resp, body, slowPolicy)
	for _, h := range forgedHeaders() {
		resp, body := send(t, g, http.MethodGet, u, h)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("GET with %v: status %d, want 429; body %q", h,
				resp.StatusCode, body)
		}
	}

	records := accessRecords(t, g)
	if len(records) == 0 {
		t.Fatal("no access records in the log")
	}
	for _, rec := range records {
		if rec.Client != "127.0.0.1" {
			t.Errorf("access record for %s has client %q, want the TCP "+
				"peer 127.0.0.1", rec.Path, rec.Client)
		}
	}
}

func TestRateLimitTrustedProxy(t *testing.T) {
	suiteFor(t)
	g := startGateway(t, limitFlags(slowRate,
		"--trusted-proxies", "127.0.0.1/32")...)
	u := g.resolveURL("config.json")
	clientA := http.Header{"X-Forwarded-For": {"198.51.100.1"}}

	_, resp, body := drain(t, g, u, clientA)
	checkLimited(t, resp, body, slowPolicy)

	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"other client", http.Header{
			"X-Forwarded-For": {"198.51.100.2"}}, http.StatusFound},
		{"proxy itself", nil, http.StatusFound},
		{"address prepended", http.Header{
			"X-Forwarded-For": {"198.51.100.3, 198.51.100.1"}},
			http.StatusTooManyRequests},
		{"field line prepended", http.Header{
			"X-Forwarded-For": {"198.51.100.4", "198.51.100.1"}},
			http.StatusTooManyRequests},
		{"X-Real-IP", http.Header{
			"X-Forwarded-For": {"198.51.100.1"},
			"X-Real-Ip":       {"198.51.100.5"}},
			http.StatusTooManyRequests},
		{"True-Client-IP", http.Header{
			"X-Forwarded-For": {"198.51.100.1"},
			"True-Client-Ip":  {"198.51.100.6"}},
			http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, g, http.MethodGet, u, tt.header)
			if resp.StatusCode != tt.want {
				t.Errorf("GET with %v: status %d, want %d; body %q",
					tt.header, resp.StatusCode, tt.want, body)
			}
		})
	}

	clients := make(map[string]bool)
	for _, rec := range accessRecords(t, g) {
		clients[rec.Client] = true
	}
	for _, want := range []string{"198.51.100.1", "198.51.100.2",
		"127.0.0.1"} {
		if !clients[want] {
			t.Errorf("no access record with client %q; clients %v", want,
				clients)
		}
	}
	for _, forged := range []string{"198.51.100.3", "198.51.100.4",
		"198.51.100.5", "198.51.100.6"} {
		if clients[forged] {
			t.Errorf("access record with the forged client %q", forged)
		}
	}
}

// writeTokenFile writes a token file that lists partnerToken in the tier
// "partner", with partnerBurst tokens refilled at slowRate, and returns
// its path.
func writeTokenFile(tb testing.TB) string {
	tb.Helper()
	sum := sha256.Sum256([]byte(partnerToken))
	limit := fmt.Sprintf(`{"rate": %s, "burst": %d}`, slowRate,
		partnerBurst)
	content := fmt.Sprintf(`{
  "tiers": {"partner": {"download": %s, "api": %s}},
  "tokens": [
    {"sha256": %q, "tier": "partner", "comment": "e2e"}
  ]
}
`, limit, limit, hex.EncodeToString(sum[:]))
	path := filepath.Join(tb.TempDir(), "tokens.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func TestRateLimitBearerTokens(t *testing.T) {
	suiteFor(t)
	g := startGateway(t, limitFlags(slowRate,
		"--token-file", writeTokenFile(t))...)
	u := g.resolveURL("config.json")

	_, resp, body := drain(t, g, u, nil)
	checkLimited(t, resp, body, slowPolicy)

	// checkLogClean, run by the cleanup of startGateway, checks that
	// bearerToken never reaches the log.
	unknown := http.Header{"Authorization": {"Bearer " + bearerToken}}
	resp, body = send(t, g, http.MethodGet, u, unknown)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("GET with an unknown token: status %d, want 429 like "+
			"the anonymous client; body %q", resp.StatusCode, body)
	}

	known := http.Header{"Authorization": {"Bearer " + partnerToken}}
	for i := range partnerBurst {
		resp, body := send(t, g, http.MethodGet, u, known)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("GET %d with the partner token: status %d, want "+
				"302; body %q", i+1, resp.StatusCode, body)
		}
		if got := resp.Header.Get("RateLimit-Limit"); got != "10" {
			t.Errorf("RateLimit-Limit with the partner token = %q, "+
				"want 10", got)
		}
	}
	resp, body = send(t, g, http.MethodGet, u, known)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("GET %d with the partner token: status %d, want 429; "+
			"body %q", partnerBurst+1, resp.StatusCode, body)
	}

	log := g.log(t)
	if strings.Contains(log, partnerToken) {
		t.Errorf("the log contains the partner token")
	}
	sum := sha256.Sum256([]byte(partnerToken))
	wantClient := "token:partner:" + hex.EncodeToString(sum[:4])
	n := 0
	for _, rec := range accessRecords(t, g) {
		if rec.Client == wantClient {
			n++
		}
	}
	if n != partnerBurst+1 {
		t.Errorf("%d access records with client %q, want %d", n,
			wantClient, partnerBurst+1)
	}
}

func TestRateLimitExemptRoutes(t *testing.T) {
	suiteFor(t)
	g := startGateway(t, limitFlags(slowRate)...)
	resolve := g.resolveURL("config.json")
	api := g.URL + "/api/models/" + modelID

	_, resp, body := drain(t, g, resolve, nil)
	checkLimited(t, resp, body, slowPolicy)
	_, resp, body = drain(t, g, api, nil)
	checkLimited(t, resp, body, slowPolicy)

	preflight := http.Header{
		"Origin":                        {"https://app.example"},
		"Access-Control-Request-Method": {"GET"},
	}
	tests := []struct {
		method, url string
		header      http.Header
		want        int
	}{
		{http.MethodGet, g.URL + "/healthz", nil, http.StatusOK},
		{http.MethodGet, g.URL + "/readyz", nil, http.StatusOK},
		{http.MethodGet, g.URL + "/metrics", nil, http.StatusOK},
		{http.MethodOptions, resolve, preflight, http.StatusNoContent},
		{http.MethodOptions, api, preflight, http.StatusNoContent},
		{http.MethodOptions, resolve, nil, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+strings.TrimPrefix(tt.url, g.URL),
			func(t *testing.T) {
				for i := range 3 * testBurst {
					resp, body := send(t, g, tt.method, tt.url, tt.header)
					if resp.StatusCode != tt.want {
						t.Fatalf("request %d: status %d, want %d; body %q",
							i+1, resp.StatusCode, tt.want, body)
					}
					if got := resp.Header.Get("RateLimit-Limit"); got != "" {
						t.Errorf("request %d: RateLimit-Limit = %q, want "+
							"none on a route that is not limited", i+1, got)
					}
				}
			})
	}

	for _, u := range []string{resolve, api} {
		resp, body := send(t, g, http.MethodGet, u, nil)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("GET %s after the exempt requests: status %d, want "+
				"429; body %q", u, resp.StatusCode, body)
		}
	}
}

func TestRateLimitMetrics(t *testing.T) {
	suiteFor(t)
	g := startGateway(t, limitFlags(slowRate,
		"--trusted-proxies", "127.0.0.1/32")...)
	resolve := g.resolveURL("config.json")
	downloads := fmt.Sprintf("modelgate_downloads_total{model=%q}", modelID)
	limited := `modelgate_ratelimit_decisions_total{budget="download",` +
		`outcome="limited"}`
	allowed := `modelgate_ratelimit_decisions_total{budget="download",` +
		`outcome="allowed"}`
	before := scrape(t, g)

	clientA := http.Header{"X-Forwarded-For": {"198.51.100.21"}}
	n, resp, body := drain(t, g, resolve, clientA)
	checkLimited(t, resp, body, slowPolicy)
	for range 2 {
		resp, _ := send(t, g, http.MethodGet, resolve, clientA)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("GET from a drained client: status %d, want 429",
				resp.StatusCode)
		}
	}
	for _, client := range []string{"198.51.100.22", "198.51.100.23"} {
		h := http.Header{"X-Forwarded-For": {client}}
		resp, _ := send(t, g, http.MethodGet, resolve, h)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("GET from %s: status %d, want 302", client,
				resp.StatusCode)
		}
	}
	after := scrape(t, g)

	rise := func(series string) float64 {
		return sample(t, after, series) - sample(t, before, series)
	}
	wantDownloads := float64(n + 2)
	if got := rise(downloads); got != wantDownloads {
		t.Errorf("%s rose by %v, want %v: one per redirect and none per "+
			"429", downloads, got, wantDownloads)
	}
	if got := rise(allowed); got != wantDownloads {
		t.Errorf("%s rose by %v, want %v", allowed, got, wantDownloads)
	}
	if got := rise(limited); got != 3 {
		t.Errorf("%s rose by %v, want 3", limited, got)
	}
	clients := sample(t, after, "modelgate_ratelimit_clients")
	if clients != 3 {
		t.Errorf("modelgate_ratelimit_clients = %v, want 3", clients)
	}
}

// scrape returns the text of g's /metrics.
func scrape(tb testing.TB, g *gateway) string {
	tb.Helper()
	resp, body := send(tb, g, http.MethodGet, g.URL+"/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: status %d, want 200", resp.StatusCode)
	}
	return string(body)
}

// sample returns the value of series, "name{labels}" as the text format
// writes it, in the scrape text, or 0 when the series is absent.
func sample(tb testing.TB, text, series string) float64 {
	tb.Helper()
	for _, line := range strings.Split(text, "\n") {
		value, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			tb.Fatalf("/metrics line %q: %v", line, err)
		}
		return v
	}
	return 0
}

// accessRecord is the part of an access-log record that the tests read.
type accessRecord struct {
	Path   string `json:"path"`
	Client string `json:"client"`
	Status int    `json:"status"`
}

// accessRecords returns the access-log records in g's log so far, except
// those of /readyz, which the start-up polls.
func accessRecords(tb testing.TB, g *gateway) []accessRecord {
	tb.Helper()
	var out []accessRecord
	for _, line := range strings.Split(g.log(tb), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var rec struct {
			Msg string `json:"msg"`
			accessRecord
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			tb.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec.Msg == "request" && rec.Path != "/readyz" {
			out = append(out, rec.accessRecord)
		}
	}
	return out
}

func TestRateLimitInvalidFlags(t *testing.T) {
	s := suiteFor(t)
	dir := t.TempDir()
	badJSON := filepath.Join(dir, "bad.json")
	err := os.WriteFile(badJSON, []byte(`{"tiers": [}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		flags []string
		want  string // in the message
	}{
		{"download rate", []string{"--rate-download", "0"},
			"invalid --rate-download 0"},
		{"API rate", []string{"--rate-api", "NaN"},
			"invalid --rate-api NaN"},
		{"API burst", []string{"--burst-api", "-1"},
			"invalid --burst-api -1"},
		{"download burst", []string{"--burst-download", "0"},
			"invalid --burst-download 0"},
		{"trusted proxies", []string{"--trusted-proxies", "10.0.0.1/8"},
			"--trusted-proxies: invalid trusted proxy \"10.0.0.1/8\""},
		{"IPv6 prefix", []string{"--ipv6-prefix", "200"},
			"invalid --ipv6-prefix 200"},
		{"max clients", []string{"--max-clients", "-1"},
			"invalid --max-clients -1"},
		{"client idle", []string{"--client-idle", "-1s"},
			"invalid --client-idle -1s"},
		{"missing token file", []string{"--token-file",
			filepath.Join(dir, "missing.json")},
			"--token-file: read token file: open "},
		{"token file not JSON", []string{"--token-file", badJSON},
			"--token-file: token file "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runServe(t, s.bin, tt.flags...)
			if code != 2 {
				t.Errorf("exit code %d, want 2\nstderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr,
					tt.want)
			}
		})
	}
}

// runServe runs "modelgate serve" with the given flags and returns its
// exit code and stderr. The process must exit on its own within
// startTimeout. Its S3 and STS endpoints are a closed loopback port, so
// that a gateway that wrongly starts reaches nothing.
func runServe(tb testing.TB, bin string, flags ...string) (int, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	closed := "http://" + freeAddr(tb)
	args := append([]string{"serve", "--bucket", "models",
		"--listen", "127.0.0.1:0", "--s3-endpoint", closed,
		"--sts-endpoint", closed, "--s3-path-style"}, flags...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + tb.TempDir(),
		"AWS_ACCESS_KEY_ID=invalid",
		"AWS_SECRET_ACCESS_KEY=invalid",
		"AWS_EC2_METADATA_DISABLED=true",
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		tb.Fatalf("run %s: %v", bin, err)
	}
	if ctx.Err() != nil {
		tb.Fatalf("modelgate serve %q still running after %v", flags,
			startTimeout)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}
