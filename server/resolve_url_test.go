package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/server"
)

// downloadCount returns modelgate_downloads_total of model in reg.
func downloadCount(tb testing.TB, reg *prometheus.Registry,
	model string,
) float64 {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatalf("gather metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != "modelgate_downloads_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "model" && l.GetValue() == model {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestResolveRedirectFalse(t *testing.T) {
	objs := append([]pageObject{{"acme/llama-tiny/empty.txt", 0}},
		pageBucket...)
	tests := []struct {
		name      string
		method    string
		target    string
		rangeHdr  string
		status    int
		wantJSON  bool
		wantSize  int64
		wantCount float64
		wantFile  string
	}{
		{"GET", "GET", corsResolve + "?redirect=false", "", 200, true,
			512, 1, "config.json"},
		{"GET zero bytes", "GET",
			"/acme/llama-tiny/resolve/main/empty.txt?redirect=false", "",
			200, true, 0, 1, "empty.txt"},
		{"GET probe", "GET", corsResolve + "?redirect=false",
			"bytes=0-0", 200, true, 512, 0, "config.json"},
		{"GET continuation", "GET", corsResolve + "?redirect=false",
			"bytes=100-", 200, true, 512, 0, "config.json"},
		{"GET nested", "GET", "/acme/llama-tiny/resolve/main/" +
			"sub%20dir/na%C3%AFve%20%231%3F.txt?redirect=false", "", 200,
			true, 7, 1, "naïve #1?.txt"},
		{"HEAD", "HEAD", corsResolve + "?redirect=false", "", 200, false,
			512, 0, ""},
		{"redirect true", "GET", corsResolve + "?redirect=true", "", 302,
			false, 512, 1, ""},
		{"redirect False", "GET", corsResolve + "?redirect=False", "",
			200, true, 512, 1, "config.json"},
		{"redirect FALSE", "GET", corsResolve + "?redirect=FALSE", "",
			200, true, 512, 1, "config.json"},
		{"redirect 0", "GET", corsResolve + "?redirect=0", "", 200, true,
			512, 1, "config.json"},
		{"redirect 1", "GET", corsResolve + "?redirect=1", "", 302,
			false, 512, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			metrics, err := server.NewMetrics(
				server.MetricsConfig{Registry: reg})
			if err != nil {
				t.Fatalf("NewMetrics: %v", err)
			}
			cat := newPageCatalog(t, objs)
			metrics.CatalogRefreshed(cat.Current(), nil)
			lim := &recordingLimiter{}
			srv, err := server.New(server.Config{Metrics: metrics,
				Limiter: lim}, cat, stubPresigner{})
			if err != nil {
				t.Fatalf("server.New: %v", err)
			}

			res := requestPage(t, srv, tt.method, tt.target,
				"Range", tt.rangeHdr)
			if res.status != tt.status {
				t.Fatalf("%s %s: status %d, want %d", tt.method,
					tt.target, res.status, tt.status)
			}
			if got := downloadCount(t, reg, "acme/llama-tiny"); got !=
				tt.wantCount {
				t.Errorf("%s %s: %v downloads counted, want %v",
					tt.method, tt.target, got, tt.wantCount)
			}
			if calls := lim.calls(); len(calls) != 1 || !calls[0] {
				t.Errorf("%s %s: limiter calls %v, want one download",
					tt.method, tt.target, calls)
			}
			if got := res.header.Get("X-Linked-Size"); got !=
				strconv.FormatInt(tt.wantSize, 10) {
				t.Errorf("%s %s: X-Linked-Size %q, want %d", tt.method,
					tt.target, got, tt.wantSize)
			}
			if !tt.wantJSON {
				if strings.Contains(res.body, "url") {
					t.Errorf("%s %s: body %q, want no URL", tt.method,
						tt.target, res.body)
				}
				return
			}
			checkSignedURLJSON(t, res, tt.wantSize, tt.wantFile)
		})
	}
}

func TestResolveInvalidRedirectFlag(t *testing.T) {
	srv := newPageServer(t, server.Config{}, pageBucket)
	for _, method := range []string{"GET", "HEAD"} {
		for _, query := range []string{"?redirect=nope", "?redirect="} {
			target := corsResolve + query
			res := requestPage(t, srv, method, target)
			if res.status != http.StatusBadRequest {
				t.Errorf("%s %s: status %d, want 400", method, target,
					res.status)
			}
			if got := res.header.Get("Location"); got != "" {
				t.Errorf("%s %s: Location %q, want none", method,
					target, got)
			}
		}
	}
}

// checkSignedURLJSON checks the response to a redirect=false request.
func checkSignedURLJSON(tb testing.TB, res pageResponse, size int64,
	file string,
) {
	tb.Helper()
	if got := res.header.Get("Content-Type"); got != "application/json" {
		tb.Errorf("Content-Type %q, want application/json", got)
	}
	if got := res.header.Get("Cache-Control"); got != "no-store" {
		tb.Errorf("Cache-Control %q, want no-store", got)
	}
	if got := res.header.Get("Location"); got != "" {
		tb.Errorf("Location %q, want none", got)
	}
	var body struct {
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
		Size      *int64 `json:"size"`
		ETag      string `json:"etag"`
	}
	if err := json.Unmarshal([]byte(res.body), &body); err != nil {
		tb.Fatalf("body %q: %v", res.body, err)
	}
	if !strings.HasPrefix(body.URL, "https://s3.invalid/models/acme/") ||
		!strings.Contains(body.URL, "filename="+url.QueryEscape(file)) {
		tb.Errorf("url %q, want the signed URL of %s", body.URL, file)
	}
	if body.ExpiresAt != "2025-03-14T16:09:26.000Z" {
		tb.Errorf("expires_at %q, want 2025-03-14T16:09:26.000Z",
			body.ExpiresAt)
	}
	if body.Size == nil || *body.Size != size {
		tb.Errorf("size %v, want %d", body.Size, size)
	}
	if body.ETag != res.header.Get("ETag") || body.ETag == "" {
		tb.Errorf("etag %q, want the ETag header %q", body.ETag,
			res.header.Get("ETag"))
	}
}
