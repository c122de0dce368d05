package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/server"
)

// failingPresigner fails every signature with err.
type failingPresigner struct{ err error }

func (p failingPresigner) Presign(context.Context, string, string) (
	presign.URL, error,
) {
	return presign.URL{}, p.err
}

// TestErrorLogLevel checks that only an unexpected 500 writes an ERROR
// record, while a 503 from an expected condition appears in the access
// log alone.
func TestErrorLogLevel(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		status    int
		wantError bool
	}{
		{"unavailable", &presign.UnavailableError{Reason: "no credentials",
			RetryAfter: time.Second}, http.StatusServiceUnavailable, false},
		{"unexpected", errors.New("signer broke"),
			http.StatusInternalServerError, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			srv, err := server.New(server.Config{Logger: log},
				newPageCatalog(t, pageBucket), failingPresigner{tt.err})
			if err != nil {
				t.Fatalf("server.New: %v", err)
			}
			for range 3 {
				res := requestPage(t, srv, "GET", corsResolve)
				if res.status != tt.status {
					t.Fatalf("GET %s: status %d, want %d", corsResolve,
						res.status, tt.status)
				}
			}
			out := logs.String()
			if got := strings.Count(out, "msg=request "); got != 3 {
				t.Errorf("%d access log records, want 3:\n%s", got, out)
			}
			errorLines := strings.Count(out, "level=ERROR")
			if tt.wantError && errorLines != 3 {
				t.Errorf("%d ERROR records, want one per request:\n%s",
					errorLines, out)
			}
			if !tt.wantError && errorLines != 0 {
				t.Errorf("%d ERROR records, want none:\n%s", errorLines,
					out)
			}
		})
	}
}
