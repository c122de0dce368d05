package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Log messages of the catalog's refresh loop.
const (
	msgRefreshFailed    = "catalog refresh failed; serving the last good catalog"
	msgRefreshRecovered = "catalog refresh recovered"
	msgNoCatalog        = "catalog listing failed and no catalog is " +
		"loaded yet; requests that need the catalog get 503 until a " +
		"listing succeeds"
)

// Metric series that follow the catalog's refreshes.
const (
	seriesListErrors = `modelgate_s3_requests_total{operation=` +
		`"ListObjectsV2",result="error"}`
	seriesRefreshFailures = "modelgate_catalog_refresh_failures_total"
	seriesLastSuccess     = "modelgate_catalog_last_success_timestamp_seconds"
)

// faultTimeout bounds each wait for the gateway to notice a fault or a
// recovery. The SDK retries a throttled request with backoff, so one
// failed listing can take several seconds.
const faultTimeout = 90 * time.Second

// faultFlags make the catalog list the bucket every second. A URL
// expiry of 30 minutes keeps the one-hour role session from falling due
// for a refresh during a test, so no request waits for STS. Rate limits
// are off because the tests poll faster than they allow.
func faultFlags(extra ...string) []string {
	return append([]string{"--refresh-interval", "1s",
		"--url-expiry", "30m", "--rate-limit=false"}, extra...)
}

// proxyFlags point the gateway's own S3 and STS requests at p, while
// the URLs it hands out still name the S3 server.
func proxyFlags(tb testing.TB, p *faultProxy) []string {
	tb.Helper()
	return []string{"--s3-endpoint", p.URL, "--sts-endpoint", p.URL,
		"--s3-public-endpoint", suiteFor(tb).s3.Endpoint}
}

// s3HostPort returns the host:port of the suite's S3 server.
func s3HostPort(tb testing.TB) string {
	tb.Helper()
	u, err := url.Parse(suiteFor(tb).s3.Endpoint)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Host
}

// startGatewayUnready runs "modelgate serve" like startGateway but
// returns once the process serves /healthz, without waiting for
// /readyz.
func startGatewayUnready(tb testing.TB, extra ...string) *gateway {
	tb.Helper()
	addr := freeAddr(tb)
	return spawn(tb, gatewayEnv(tb), addr, serveArgs(tb, addr, extra...))
}

// readyz is the body of a /readyz response.
type readyz struct {
	Status     string `json:"status"`
	Reason     string `json:"reason"`
	CatalogAge *int   `json:"catalog_age_sec"`
}

// getReadyz returns the status and body of /readyz.
func (g *gateway) getReadyz(tb testing.TB) (int, readyz) {
	tb.Helper()
	req := newRequest(tb, http.MethodGet, g.URL+"/readyz", nil)
	resp, body := do(tb, g.noRedirectClient(), req)
	var r readyz
	if err := json.Unmarshal(body, &r); err != nil {
		tb.Fatalf("GET /readyz: body %q is not JSON: %v", body, err)
	}
	return resp.StatusCode, r
}

// metric returns the value of one series of g's /metrics, or 0 when
// the series is absent.
func (g *gateway) metric(tb testing.TB, series string) float64 {
	tb.Helper()
	return sample(tb, scrape(tb, g), series)
}

// logRecords returns the records of g's JSON log whose "msg" is msg.
func logRecords(tb testing.TB, g *gateway, msg string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(g.log(tb), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// waitUntil calls cond every 50 ms until it returns true, and fails tb
// when faultTimeout passes first. Each call of cond may run checks.
func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), faultTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			tb.Fatalf("%s: not within %v", what, faultTimeout)
		case <-tick.C:
		}
	}
}

// checkServes checks that g serves the requests a download client
// makes from its catalog: a redirect, file metadata, listings and
// readiness, and never a 5xx.
func checkServes(tb testing.TB, g *gateway) {
	tb.Helper()
	base := "/" + modelID
	checks := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, base + "/resolve/main/config.json", http.StatusFound},
		{http.MethodHead, base + "/resolve/main/config.json", http.StatusOK},
		{http.MethodGet, "/api/models/" + modelID, http.StatusOK},
		{http.MethodGet, "/api/models/" + modelID + "/tree/main", http.StatusOK},
		{http.MethodGet, "/readyz", http.StatusOK},
	}
	client := g.noRedirectClient()
	for _, c := range checks {
		req := newRequest(tb, c.method, g.URL+c.path, nil)
		resp, body := do(tb, client, req)
		if resp.StatusCode != c.status {
			tb.Errorf("%s %s = %d, want %d; body %q", c.method, c.path,
				resp.StatusCode, c.status, body)
		}
	}
}

// checkUnavailable checks that a request that needs the catalog gets a
// 503 JSON error with Retry-After while none is loaded.
func checkUnavailable(tb testing.TB, g *gateway, path string) {
	tb.Helper()
	req := newRequest(tb, http.MethodGet, g.URL+path, nil)
	resp, body := do(tb, g.noRedirectClient(), req)
	if resp.StatusCode != http.StatusServiceUnavailable {
		tb.Errorf("GET %s without a catalog = %d, want 503; body %q",
			path, resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") == "" {
		tb.Errorf("GET %s without a catalog: no Retry-After", path)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("GET %s without a catalog: Content-Type %q", path, ct)
	}
}

func TestS3UnreachableAtStartup(t *testing.T) {
	suiteFor(t)
	p := startFaultProxy(t, s3HostPort(t), proxyRefuse)
	g := startGatewayUnready(t, append(proxyFlags(t, p),
		"--refresh-interval", "8s", "--url-expiry", "30m",
		"--rate-limit=false")...)
	t.Cleanup(func() { checkLogClean(t, g) })
	waitUntil(t, "/healthz answers", func() bool {
		resp, err := g.noRedirectClient().Get(g.URL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// The catalog retries after 1, 2 and 4 seconds while S3 refuses
	// connections.
	waitUntil(t, "three failed listings", func() bool {
		return g.metric(t, seriesListErrors) >= 3
	})
	code, r := g.getReadyz(t)
	if code != http.StatusServiceUnavailable || r.Status != "not ready" ||
		!strings.Contains(r.Reason, "catalog not loaded") {
		t.Errorf("/readyz with S3 unreachable = %d %+v, want 503 not "+
			"ready because the catalog is not loaded", code, r)
	}
	checkUnavailable(t, g, "/"+modelID+"/resolve/main/config.json")
	checkUnavailable(t, g, "/api/models/"+modelID+"/tree/main")
	checkUnavailable(t, g, "/api/models")
	if n := len(logRecords(t, g, msgNoCatalog)); n != 1 {
		t.Errorf("%d %q records for one cause, want 1", n, msgNoCatalog)
	}
	if n := len(logRecords(t, g, msgRefreshFailed)); n != 0 {
		t.Errorf("%d %q records before any catalog was loaded, want 0",
			n, msgRefreshFailed)
	}

	p.set(t, proxyForward)
	waitUntil(t, "ready once S3 answers", func() bool {
		code, _ := g.getReadyz(t)
		return code == http.StatusOK
	})
	checkServes(t, g)
	if n := len(logRecords(t, g, msgRefreshRecovered)); n != 1 {
		t.Errorf("%d %q records, want 1", n, msgRefreshRecovered)
	}
}

func TestS3FailingLaterKeepsServing(t *testing.T) {
	s := suiteFor(t)
	p := startFaultProxy(t, s3HostPort(t), proxyForward)
	g := startGateway(t, faultFlags(proxyFlags(t, p)...)...)
	checkServes(t, g)
	loaded := g.metric(t, seriesLastSuccess)

	// A model added during the outage shows up after it, without a
	// restart.
	const added = "e2e-faults/added-during-outage"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Cleanup(func() { s.s3.Delete(context.Background(), added+"/x.txt") })

	faults := []faultMode{proxyRefuse, proxyReset, proxyThrottle}
	for i, mode := range faults {
		before := g.metric(t, seriesRefreshFailures)
		logged := len(logRecords(t, g, msgRefreshFailed))
		p.set(t, mode)
		waitUntil(t, mode.String()+": three failed refreshes", func() bool {
			checkServes(t, g)
			return g.metric(t, seriesRefreshFailures) >= before+3
		})
		if i == 0 {
			if err := s.s3.Put(ctx, added+"/x.txt", []byte("x")); err != nil {
				t.Fatal(err)
			}
		}

		// Each fault is one cause, whatever request ids and local
		// ports its errors carry, so it is logged once. A listing that
		// the switch cut off may fail with an error of its own first.
		recs := logRecords(t, g, msgRefreshFailed)[logged:]
		if len(recs) < 1 || len(recs) > 2 {
			t.Errorf("%s: %d %q records for 3 or more failures, want 1 "+
				"(2 with the switch)", mode, len(recs), msgRefreshFailed)
			for _, rec := range recs {
				t.Logf("logged: %v", rec["err"])
			}
		}
	}
	_, r := g.getReadyz(t)
	if r.CatalogAge == nil || *r.CatalogAge < 1 {
		t.Errorf("/readyz catalog_age_sec = %v after failed refreshes a "+
			"second apart, want at least 1", r.CatalogAge)
	}

	p.set(t, proxyForward)
	addedURL := g.URL + "/" + added + "/resolve/main/x.txt"
	waitUntil(t, "the added model resolves", func() bool {
		req := newRequest(t, http.MethodGet, addedURL, nil)
		resp, _ := do(t, g.noRedirectClient(), req)
		return resp.StatusCode == http.StatusFound
	})
	checkServes(t, g)
	if got := g.metric(t, seriesLastSuccess); got <= loaded {
		t.Errorf("%s = %v after recovery, want later than %v",
			seriesLastSuccess, got, loaded)
	}
	if n := len(logRecords(t, g, msgRefreshRecovered)); n != 1 {
		t.Errorf("%d %q records, want 1", n, msgRefreshRecovered)
	}
}

func TestS3PausedDoesNotHoldRequests(t *testing.T) {
	s := suiteFor(t)
	g := startGateway(t, faultFlags("--list-timeout", "3s")...)
	checkServes(t, g)
	before := g.metric(t, seriesRefreshFailures)
	loaded := g.metric(t, seriesLastSuccess)

	if err := s.s3.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			s.s3.Resume()
		}
	})
	// Requests keep getting responses from memory while a listing
	// hangs until --list-timeout ends it.
	waitUntil(t, "a listing timed out", func() bool {
		checkServes(t, g)
		return g.metric(t, seriesRefreshFailures) > before
	})
	recs := logRecords(t, g, msgRefreshFailed)
	if len(recs) == 0 {
		t.Fatalf("no %q record", msgRefreshFailed)
	}
	if err, _ := recs[0]["err"].(string); !strings.Contains(err,
		"deadline exceeded") {
		t.Errorf("refresh error %q, want a deadline exceeded", err)
	}

	if err := s.s3.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	waitUntil(t, "a listing after Resume", func() bool {
		return g.metric(t, seriesLastSuccess) > loaded
	})
	checkServes(t, g)
}
