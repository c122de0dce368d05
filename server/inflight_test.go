package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/presign"
)

// gatedSigner blocks each Presign call until release is closed, and
// reports on entered when a call starts. The entered channel needs room
// for every call made after release.
type gatedSigner struct {
	entered chan struct{}
	release chan struct{}
}

func (s *gatedSigner) Presign(ctx context.Context, key, _ string) (
	presign.URL, error,
) {
	s.entered <- struct{}{}
	select {
	case <-s.release:
	case <-ctx.Done():
		return presign.URL{}, ctx.Err()
	}
	return presign.URL{URL: testSignBase + key,
		Expires: time.Unix(1700003600, 0)}, nil
}

// newGatedServer returns a server with the in-flight cap max whose
// downloads block in a gatedSigner.
func newGatedServer(tb testing.TB, max int) (*Server, *gatedSigner) {
	tb.Helper()
	signer := &gatedSigner{entered: make(chan struct{}, 100),
		release: make(chan struct{})}
	srv, err := New(Config{MaxInFlight: max}, newFixtureCatalog(tb),
		signer)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return srv, signer
}

func TestInFlightCapRejectsOverCap(t *testing.T) {
	const max = 2
	srv, signer := newGatedServer(t, max)
	download := "/" + testModel + "/resolve/main/config.json"

	// Fill the cap with downloads that wait in the signer.
	var wg sync.WaitGroup
	held := make([]*httptest.ResponseRecorder, max)
	for i := range held {
		wg.Add(1)
		go func() {
			defer wg.Done()
			held[i] = serve(srv, httptest.NewRequest(http.MethodGet,
				download, nil))
		}()
		<-signer.entered
	}

	// Without the cap, the download would wait in the signer until
	// this deadline and fail with a 500.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	over := []string{download, "/api/models"}
	for _, target := range over {
		rec := serve(srv, httptest.NewRequestWithContext(ctx,
			http.MethodGet, target, nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("GET %s over the cap: status %d, want 503",
				target, rec.Code)
		}
		if got := rec.Header().Get("Retry-After"); got != "1" {
			t.Errorf("GET %s over the cap: Retry-After %q, want 1",
				target, got)
		}
		if !isJSONError(rec.Header().Get("Content-Type"),
			rec.Body.String()) {
			t.Errorf("GET %s over the cap: body %q is not a JSON error",
				target, rec.Body)
		}
	}
	for _, probe := range []string{"/healthz", "/readyz"} {
		rec := serve(srv, httptest.NewRequest(http.MethodGet, probe, nil))
		if rec.Code == http.StatusServiceUnavailable &&
			rec.Header().Get("X-Error-Code") == "Overloaded" {
			t.Errorf("GET %s at the cap: overloaded, want exempt", probe)
		}
	}

	close(signer.release)
	wg.Wait()
	for i, r := range held {
		if r.Code != http.StatusFound {
			t.Errorf("held request %d: status %d, want 302", i, r.Code)
		}
	}
	rec := serve(srv, httptest.NewRequest(http.MethodGet, download, nil))
	if rec.Code != http.StatusFound {
		t.Errorf("GET %s after the held requests ended: status %d, "+
			"want 302", download, rec.Code)
	}
}

func TestInFlightCapZeroCapsNothing(t *testing.T) {
	srv, signer := newGatedServer(t, 0)
	download := "/" + testModel + "/resolve/main/config.json"
	const held = 50

	var wg sync.WaitGroup
	codes := make([]int, held)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = serve(srv, httptest.NewRequest(http.MethodGet,
				download, nil)).Code
		}()
		<-signer.entered
	}
	rec := serve(srv, httptest.NewRequest(http.MethodGet, "/api/models",
		nil))
	if rec.Code != http.StatusOK {
		t.Errorf("GET /api/models with %d requests held: status %d, "+
			"want 200", held, rec.Code)
	}
	close(signer.release)
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusFound {
			t.Errorf("held request %d: status %d, want 302", i, code)
		}
	}
}

func TestConfigRejectsNegativeMaxInFlight(t *testing.T) {
	err := Config{MaxInFlight: -1}.Validate()
	if err == nil {
		t.Fatal("Config{MaxInFlight: -1}.Validate() = nil, want an error")
	}
}
