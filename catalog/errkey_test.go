package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestErrorKeyIgnoresPerAttemptParts(t *testing.T) {
	const prefix = "list s3://models/: operation error S3: ListObjectsV2, "
	tests := []struct {
		name string
		a, b string
	}{
		{"request ids",
			prefix + "https response error StatusCode: 503, RequestID: " +
				"ef9ec56a, HostID: ef9ec56a, api error SlowDown: slow",
			prefix + "https response error StatusCode: 503, RequestID: " +
				"3dc4602d, HostID: 3dc4602d, api error SlowDown: slow"},
		{"local port",
			prefix + `Get "http://127.0.0.1:8333/models": read tcp ` +
				"127.0.0.1:54321->127.0.0.1:8333: read: connection reset",
			prefix + `Get "http://127.0.0.1:8333/models": read tcp ` +
				"127.0.0.1:40002->127.0.0.1:8333: read: connection reset"},
		{"reset while connecting or reading",
			prefix + `Get "http://127.0.0.1:8333/models": dial tcp ` +
				"127.0.0.1:8333: connect: connection reset by peer",
			prefix + `Get "http://127.0.0.1:8333/models": read tcp ` +
				"127.0.0.1:47482->127.0.0.1:8333: read: connection reset " +
				"by peer"},
		{"IPv6 local port",
			"read tcp [::1]:54321->[::1]:8333: i/o timeout",
			"read tcp [::1]:40002->[::1]:8333: i/o timeout"},
		{"continuation token",
			prefix + `Get "http://s3/models?continuation-token=abc&` +
				`list-type=2": EOF`,
			prefix + `Get "http://s3/models?continuation-token=xyz&` +
				`list-type=2": EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := errorKey(errors.New(tt.a)), errorKey(errors.New(tt.b))
			if ka != kb {
				t.Errorf("errorKey differs:\n%q\n%q", ka, kb)
			}
		})
	}
}

func TestErrorKeyKeepsCauses(t *testing.T) {
	causes := []string{
		"StatusCode: 503, RequestID: a, api error SlowDown: slow",
		"StatusCode: 500, RequestID: a, api error InternalError: oops",
		"StatusCode: 403, RequestID: a, api error AccessDenied: denied",
		"dial tcp 127.0.0.1:8333: connect: connection refused",
		"dial tcp 127.0.0.1:9000: connect: connection refused",
		"read tcp 127.0.0.1:5->127.0.0.1:8333: read: connection reset",
		"context deadline exceeded",
	}
	seen := make(map[string]string)
	for _, c := range causes {
		k := errorKey(errors.New(c))
		if other, dup := seen[k]; dup {
			t.Errorf("errorKey(%q) = errorKey(%q) = %q", c, other, k)
		}
		seen[k] = c
	}
}

// TestReportLogsOncePerCause fails refreshes with errors that differ
// only in their request ids, then with another cause, then succeeds.
func TestReportLogsOncePerCause(t *testing.T) {
	var logs bytes.Buffer
	attempt := 0
	f := &fakeLister{keys: []string{"org/model/a.bin"}, pageSize: 10}
	f.fail = func(int) error {
		attempt++
		switch {
		case attempt <= 3:
			return fmt.Errorf("StatusCode: 503, RequestID: %d, api "+
				"error SlowDown: slow", attempt)
		case attempt <= 5:
			return errors.New("dial tcp 127.0.0.1:1: connect: " +
				"connection refused")
		}
		return nil
	}
	c, err := New(f, Config{Bucket: "models",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		c.Refresh(context.Background())
	}
	text := logs.String()
	// The failures come before any listing succeeded, so they are
	// logged as such.
	if n := strings.Count(text, "no catalog is loaded yet"); n != 2 {
		t.Errorf("%d failure records for 2 causes in 5 failures, want "+
			"2:\n%s", n, text)
	}
	if n := strings.Count(text, "catalog refresh recovered"); n != 1 {
		t.Errorf("%d recovery records, want 1:\n%s", n, text)
	}
}
