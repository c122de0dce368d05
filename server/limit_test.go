package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/modelgate/modelgate/ratelimit"
	"github.com/modelgate/modelgate/server"
)

// TestRateLimiterHeaders sends requests through the router to a
// ratelimit.Limiter with a fixed clock, and checks the status and
// rate-limit fields of each response.
func TestRateLimiterHeaders(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	lim, err := ratelimit.New(ratelimit.Config{
		Download: ratelimit.Limit{Rate: 1, Burst: 2},
		API:      ratelimit.Limit{Rate: 0.5, Burst: 1},
	}, func() time.Time { return now })
	if err != nil {
		t.Fatalf("ratelimit.New: %v", err)
	}
	srv := newPageServer(t, server.Config{
		Limiter: server.NewRateLimiter(lim)}, []pageObject{
		{"acme/tiny/model.safetensors", 4 << 20},
	})
	resolve := "/acme/tiny/resolve/main/model.safetensors"
	raw := "/acme/tiny/raw/main/model.safetensors"
	api := "/api/models/acme/tiny"
	tests := []struct {
		target string
		status int
		want   map[string]string
	}{
		{resolve, http.StatusFound, map[string]string{
			"RateLimit-Limit": "2", "RateLimit-Remaining": "1",
			"RateLimit-Reset": "1", "RateLimit-Policy": "2;w=2",
			"Retry-After": ""}},
		{raw, http.StatusFound, map[string]string{
			"RateLimit-Limit": "2", "RateLimit-Remaining": "0",
			"RateLimit-Reset": "2"}},
		{raw, http.StatusTooManyRequests, map[string]string{
			"RateLimit-Policy": "2;w=2", "Retry-After": "1"}},
		{resolve, http.StatusTooManyRequests, map[string]string{
			"RateLimit-Limit": "2", "RateLimit-Remaining": "0",
			"Retry-After": "1", "X-Error-Code": "RateLimited",
			"Content-Type": "application/json"}},
		{api, http.StatusOK, map[string]string{
			"RateLimit-Limit": "1", "RateLimit-Remaining": "0",
			"RateLimit-Policy": "1;w=2", "Retry-After": ""}},
		{api, http.StatusTooManyRequests, map[string]string{
			"Retry-After": "2"}},
	}
	for i, tt := range tests {
		res := requestPage(t, srv, http.MethodGet, tt.target)
		request := fmt.Sprintf("request %d, GET %s", i+1, tt.target)
		if res.status != tt.status {
			t.Errorf("%s: status %d, want %d", request, res.status,
				tt.status)
		}
		checkHeaders(t, request, res.header, tt.want)
		if got := res.header.Values("Retry-After"); len(got) > 1 {
			t.Errorf("%s: Retry-After %q, want one value", request, got)
		}
	}
}
