package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/server"
)

func newJSONLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

const resolveBase = "/" + testModel + "/resolve/main/"

func TestDownloadsCountedOncePerWholeDownload(t *testing.T) {
	g := startGateway(t)
	weights := resolveBase + "model.safetensors"

	before := parseSamples(t, g.scrape(t))
	if v, ok := before[downloadsSeries(testModel)]; !ok || v != 0 {
		t.Fatalf("before downloads: %s = %v (present %v), want 0",
			downloadsSeries(testModel), v, ok)
	}

	// Three whole downloads, and one from byte 0 with an end.
	for range 3 {
		g.expect(t, http.StatusFound, "GET", weights)
	}
	g.expect(t, http.StatusFound, "GET", weights, "Range: bytes=0-999")

	// None of these count.
	for _, rng := range []string{"bytes=1000-", "bytes=1000-1999",
		"bytes=2000-", "bytes=4000000-", "bytes=-500"} {
		g.expect(t, http.StatusFound, "GET", weights, "Range: "+rng)
	}
	g.expect(t, http.StatusFound, "GET", weights, "Range: bytes=0-0")
	g.expect(t, http.StatusOK, "HEAD", weights)
	g.expect(t, http.StatusNotFound, "GET", resolveBase+"missing.bin")
	g.expect(t, http.StatusTooManyRequests, "GET", weights,
		deniedHeader+": 1")

	after := parseSamples(t, g.scrape(t))
	checks := []struct {
		series string
		want   float64
	}{
		{downloadsSeries(testModel), 4},
		{downloadsSeries(otherModel), 0},
		{`modelgate_ratelimit_decisions_total{budget="download",` +
			`outcome="limited"}`, 1},
		{`modelgate_ratelimit_decisions_total{budget="download",` +
			`outcome="allowed"}`, 12},
		{`modelgate_http_requests_total{code="429",method="GET",` +
			`route="/{org}/{name}/resolve/{rev}/*"}`, 1},
		{`modelgate_http_requests_total{code="302",method="GET",` +
			`route="/{org}/{name}/resolve/{rev}/*"}`, 10},
		{`modelgate_http_requests_total{code="200",method="HEAD",` +
			`route="/{org}/{name}/resolve/{rev}/*"}`, 1},
		{"modelgate_presign_duration_seconds_count", 10},
	}
	for _, c := range checks {
		if got := after[c.series] - before[c.series]; got != c.want {
			t.Errorf("%s rose by %v, want %v", c.series, got, c.want)
		}
	}
}

func TestDownloadsOfEmptyFile(t *testing.T) {
	g := startGateway(t)
	empty := resolveBase + "empty.txt"
	series := downloadsSeries(testModel)

	tests := []struct {
		name    string
		method  string
		headers []string
		want    float64
	}{
		{"no range", "GET", nil, 1},
		{"probe", "GET", []string{"Range: bytes=0-0"}, 0},
		{"from zero", "GET", []string{"Range: bytes=0-"}, 1},
		{"head", "HEAD", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := parseSamples(t, g.scrape(t))[series]
			g.expect(t, http.StatusOK, tt.method, empty, tt.headers...)
			got := parseSamples(t, g.scrape(t))[series] - before
			if got != tt.want {
				t.Errorf("%s empty file %q: downloads rose by %v, "+
					"want %v", tt.method, tt.headers, got, tt.want)
			}
		})
	}
}

func TestDownloadSeriesFollowCatalog(t *testing.T) {
	g := startGateway(t)
	g.expect(t, http.StatusFound, "GET", resolveBase+"config.json")

	samples := parseSamples(t, g.scrape(t))
	if got := samples[downloadsSeries(testModel)]; got != 1 {
		t.Fatalf("%s = %v, want 1", downloadsSeries(testModel), got)
	}
	if got := samples["modelgate_catalog_models"]; got != 2 {
		t.Errorf("modelgate_catalog_models = %v, want 2", got)
	}

	// testModel leaves the bucket and a new model arrives.
	var objects []catalog.Object
	for _, o := range testObjects() {
		if !strings.HasPrefix(o.Key, testModel+"/") {
			objects = append(objects, o)
		}
	}
	newObject := testObjects()[0]
	newObject.Key = "acme/new/config.json"
	g.list.set(append(objects, newObject))
	if _, err := g.cat.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	samples = parseSamples(t, g.scrape(t))
	if v, ok := samples[downloadsSeries(testModel)]; ok {
		t.Errorf("%s = %v after the model left the bucket, want no "+
			"series", downloadsSeries(testModel), v)
	}
	if v, ok := samples[downloadsSeries("acme/new")]; !ok || v != 0 {
		t.Errorf("%s = %v (present %v), want 0",
			downloadsSeries("acme/new"), v, ok)
	}
	if got := samples["modelgate_catalog_files"]; got != 2 {
		t.Errorf("modelgate_catalog_files = %v, want 2", got)
	}
}

// randomName returns a random name of lowercase letters and digits.
func randomName(rng *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6+rng.IntN(10))
	for i := range b {
		b[i] = chars[rng.IntN(len(chars))]
	}
	return string(b)
}

// randomMethod returns a standard method or a random token.
func randomMethod(rng *rand.Rand) string {
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
		"OPTIONS", ""}
	m := methods[rng.IntN(len(methods))]
	if m == "" {
		m = "X" + strings.ToUpper(randomName(rng))
	}
	return m
}

// randomPaths returns one path of each shape the gateway routes, with
// names from name: downloads and API calls for unknown models and for
// unknown files of a known model, and paths of one to five segments.
func randomPaths(name func() string) []string {
	return []string{
		"/" + name() + "/" + name() + "/resolve/main/" + name(),
		"/" + name() + "/" + name() + "/resolve/" + name() + "/" +
			name() + "/" + name(),
		resolveBase + name() + ".bin",
		"/" + testModel + "/resolve/" + name() + "/config.json",
		"/" + name() + "/" + name() + "/raw/main/" + name(),
		"/api/models/" + name() + "/" + name(),
		"/api/models/" + name() + "/" + name() + "/revision/" + name(),
		"/api/models/" + name() + "/" + name() + "/tree/main",
		"/api/models/" + name() + "/" + name() + "/tree/main/" + name(),
		"/api/models/" + name() + "/" + name() + "/paths-info/main",
		"/api/" + name(),
		"/" + name(),
		"/" + name() + "/" + name(),
		"/" + name() + "/" + name() + "/" + name(),
		"/" + name() + "/" + name() + "/" + name() + "/" + name(),
		"/" + name() + "/" + name() + "/" + name() + "/" + name() +
			"/" + name(),
	}
}

func TestRandomRequestsAddNoSeries(t *testing.T) {
	g := startGateway(t)
	rng := rand.New(rand.NewPCG(1, 2))
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
		"OPTIONS", "XBREW"}

	// One request of each shape and method class creates every series
	// that such requests can create.
	fixed := func() string { return "fixed" }
	for _, path := range randomPaths(fixed) {
		for _, m := range methods {
			g.do(t, m, path)
		}
	}
	g.scrape(t) // the first scrape adds the series of /metrics itself
	baseline := parseSamples(t, g.scrape(t))

	seen := make(map[string]bool)
	name := func() string {
		n := randomName(rng)
		seen[n] = true
		return n
	}
	for range 1000 {
		paths := randomPaths(name)
		g.do(t, randomMethod(rng), paths[rng.IntN(len(paths))])
	}

	scrape := g.scrape(t)
	after := parseSamples(t, scrape)
	if len(after) != len(baseline) {
		for s := range after {
			if _, ok := baseline[s]; !ok {
				t.Errorf("new series %s", s)
			}
		}
		t.Fatalf("scrape has %d series after random requests, want %d",
			len(after), len(baseline))
	}
	for n := range seen {
		if strings.Contains(scrape, n) {
			t.Errorf("scrape contains the random name %q", n)
		}
	}
	for s := range after {
		if strings.Contains(s, `method="X`) {
			t.Errorf("series %s has an unnormalised method", s)
		}
	}
}

func TestPromtoolChecksScrape(t *testing.T) {
	g := startGateway(t)
	g.expect(t, http.StatusFound, "GET", resolveBase+"config.json")
	g.expect(t, http.StatusNotFound, "GET", resolveBase+"missing")
	promtool := lookPath(t, "promtool")

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(g.scrape(t))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// lookPath returns the path of a program the tests need. scripts/test.sh
// installs it, so a missing program fails the test instead of skipping
// it.
func lookPath(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s not found (%v); scripts/test.sh installs it with "+
			"apt-get install prometheus", name, err)
	}
	return p
}

func TestBuildInfoAndCollectors(t *testing.T) {
	g := startGateway(t)
	samples := parseSamples(t, g.scrape(t))
	for _, prefix := range []string{"modelgate_build_info{",
		"go_goroutines", "process_cpu_seconds_total",
		"modelgate_ratelimit_clients", "modelgate_catalog_last_success"} {
		found := false
		for s := range samples {
			found = found || strings.HasPrefix(s, prefix)
		}
		if !found {
			t.Errorf("scrape has no series starting with %s", prefix)
		}
	}

	g.metrics.TrackClients(func() int { return 7 })
	samples = parseSamples(t, g.scrape(t))
	if got := samples["modelgate_ratelimit_clients"]; got != 7 {
		t.Errorf("modelgate_ratelimit_clients = %v, want 7", got)
	}
}

func TestNewMetricsErrors(t *testing.T) {
	if _, err := server.NewMetrics(server.MetricsConfig{}); err == nil {
		t.Errorf("NewMetrics without a registry: err = nil, want error")
	}
	reg := prometheus.NewRegistry()
	cfg := server.MetricsConfig{Registry: reg}
	if _, err := server.NewMetrics(cfg); err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	if _, err := server.NewMetrics(cfg); err == nil {
		t.Errorf("NewMetrics twice on one registry: err = nil, " +
			"want error")
	}
}

// accessRecord is one access-log record as the JSON handler writes it.
type accessRecord map[string]any

// accessLog returns the access-log records written so far.
func accessLog(tb testing.TB, g *testGateway) []accessRecord {
	tb.Helper()
	var recs []accessRecord
	for _, line := range strings.Split(g.log.String(), "\n") {
		if line == "" {
			continue
		}
		var rec accessRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "request" {
			recs = append(recs, rec)
		}
	}
	return recs
}

func TestAccessLogRecord(t *testing.T) {
	g := startGateway(t)
	resp := g.expect(t, http.StatusFound, "GET",
		resolveBase+"config.json?token=query-secret",
		"Authorization: Bearer hf_header-secret",
		"X-Request-Id: req-42.a:b")
	if got := resp.Header.Get("X-Request-Id"); got != "req-42.a:b" {
		t.Errorf("X-Request-Id echoed = %q, want %q", got, "req-42.a:b")
	}
	signature := resp.Header.Get("Location")
	if !strings.Contains(signature, "X-Amz-Signature=") {
		t.Fatalf("Location = %q, want a signed URL", signature)
	}
	_, signature, _ = strings.Cut(signature, "X-Amz-Signature=")

	recs := accessLog(t, g)
	if len(recs) != 1 {
		t.Fatalf("access log has %d records, want 1: %v", len(recs), recs)
	}
	want := accessRecord{
		"request_id": "req-42.a:b",
		"method":     "GET",
		"route":      "/{org}/{name}/resolve/{rev}/*",
		"path":       resolveBase + "config.json",
		"status":     float64(302),
		"model":      testModel,
		"client":     "ip:127.0.0.1",
		"download":   true,
	}
	for k, v := range want {
		if recs[0][k] != v {
			t.Errorf("access log %s = %v, want %v", k, recs[0][k], v)
		}
	}
	if _, ok := recs[0]["duration_ms"].(float64); !ok {
		t.Errorf("access log duration_ms = %v, want a number",
			recs[0]["duration_ms"])
	}
	logText := g.log.String()
	for _, secret := range []string{"query-secret", "header-secret",
		signature, "AKIDTEST"} {
		if strings.Contains(logText, secret) {
			t.Errorf("log contains %q:\n%s", secret, logText)
		}
	}
}

func TestAccessLogLeavesOutQueryValues(t *testing.T) {
	g := startGateway(t)
	targets := []string{
		"/api/models?cursor=secret-cursor",
		"/api/models?limit=secret-limit",
		"/api/models/" + testModel + "/tree/main?recursive=secret-rec",
		"/api/models/" + testModel + "/tree/main?expand=secret-expand",
		"/api/models/" + testModel + "/tree/main?cursor=secret-tree",
		resolveBase + "config.json?redirect=secret-redirect",
		"/?page=secret-page",
		"/api/models?cursor=%zzsecret-escape",
	}
	for _, target := range targets {
		g.expect(t, http.StatusBadRequest, "GET", target)
	}
	pathsInfo := "/api/models/" + testModel + "/paths-info/main"
	resp, err := g.client.Post(g.URL+pathsInfo,
		"application/x-www-form-urlencoded",
		strings.NewReader("paths=config.json&expand=secret-form"))
	if err != nil {
		t.Fatalf("POST %s: %v", pathsInfo, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST %s with expand=secret-form: status %d, want 400",
			pathsInfo, resp.StatusCode)
	}
	targets = append(targets, pathsInfo)

	recs := accessLog(t, g)
	if len(recs) != len(targets) {
		t.Fatalf("access log has %d records, want %d", len(recs),
			len(targets))
	}
	for i, rec := range recs {
		msg, _ := rec["error"].(string)
		if !strings.HasPrefix(msg, "invalid ") {
			t.Errorf("GET %s: logged error %q, want one naming the "+
				"parameter", targets[i], msg)
		}
	}
	if logText := g.log.String(); strings.Contains(logText, "secret") {
		t.Errorf("log contains a query value:\n%s", logText)
	}
}

func TestAccessLogRequestID(t *testing.T) {
	g := startGateway(t)
	tests := []struct {
		name string
		id   string
	}{
		{"missing", ""},
		{"space", "bad id"},
		{"too long", strings.Repeat("a", 129)},
		{"newline", "a\u2028b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.id != "" {
				headers = append(headers, "X-Request-Id: "+tt.id)
			}
			resp := g.expect(t, http.StatusOK, "GET", "/healthz",
				headers...)
			got := resp.Header.Get("X-Request-Id")
			if got == "" || got == tt.id {
				t.Fatalf("X-Request-Id for %q = %q, want a new id",
					tt.id, got)
			}
			recs := accessLog(t, g)
			last := recs[len(recs)-1]
			if last["request_id"] != got {
				t.Errorf("logged request_id = %v, want %q",
					last["request_id"], got)
			}
			if last["client"] != "ip:127.0.0.1" {
				t.Errorf("logged client = %v, want ip:127.0.0.1",
					last["client"])
			}
		})
	}
}
