package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// slogJSON returns the line that slog.JSONHandler with default options
// writes for e.
func slogJSON(tb testing.TB, e *accessEntry) string {
	tb.Helper()
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, nil)
	if err := h.Handle(context.Background(), e.slogRecord()); err != nil {
		tb.Fatalf("JSONHandler.Handle: %v", err)
	}
	return buf.String()
}

// checkSameAsSlog fails tb unless appendAccessJSON writes for e what
// slog.JSONHandler writes.
func checkSameAsSlog(tb testing.TB, e *accessEntry) {
	tb.Helper()
	want := slogJSON(tb, e)
	got := string(appendAccessJSON(nil, e))
	if got != want {
		tb.Fatalf("appendAccessJSON(%+v)\n got %q\nwant %q", *e, got, want)
	}
}

// fullEntry returns an entry with every field set, as a redirect that
// counted as a download and an error would log them.
func fullEntry() accessEntry {
	return accessEntry{
		time:     time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC),
		id:       "req-1",
		method:   "GET",
		route:    "/{org}/{name}/resolve/{rev}/*",
		path:     "/acme/tiny/resolve/main/config.json",
		status:   302,
		bytes:    0,
		duration: 1234567 * time.Nanosecond,
		client:   "ip:127.0.0.1",
		model:    "acme/tiny",
		download: true,
		hasError: true,
		// errorMessage is empty on purpose: it is still written.
	}
}

func TestAccessJSONMatchesSlog(t *testing.T) {
	long := strings.Repeat("ab\"<\x01é\u2028\xff", 700)
	zones := []*time.Location{time.UTC, time.Local,
		time.FixedZone("IST", 5*3600+1800),
		time.FixedZone("west", -8*3600),
		time.FixedZone("seconds", 3600+15*60+30)}
	tests := []struct {
		name string
		edit func(e *accessEntry)
	}{
		{"full", func(*accessEntry) {}},
		{"minimal", func(e *accessEntry) {
			e.model, e.download, e.hasError = "", false, false
		}},
		{"error message", func(e *accessEntry) {
			e.errorMessage = `file "x" not found <b>&</b>`
		}},
		{"quotes and backslashes", func(e *accessEntry) {
			e.path = `/a"b\c\\"d`
		}},
		{"control characters", func(e *accessEntry) {
			var b strings.Builder
			for c := range 0x20 {
				b.WriteByte(byte(c))
			}
			e.client = b.String() + "\x7f"
		}},
		{"html characters", func(e *accessEntry) { e.model = "<a>&'b'" }},
		{"line and paragraph separators", func(e *accessEntry) {
			e.id = "a\u2028b\u2029c\u2027d\u202ae"
		}},
		{"invalid UTF-8", func(e *accessEntry) {
			e.path = "\xff\x80a\xc0\xae\xe2\x82\xed\xa0\x80\xf4\x90\x80" +
				"\x80\xe2\x80"
		}},
		{"replacement character", func(e *accessEntry) {
			e.method = "\ufffd\xef\xbf"
		}},
		{"non-ASCII", func(e *accessEntry) { e.model = "naïve 中文 😀" }},
		{"long strings", func(e *accessEntry) {
			e.path, e.errorMessage = long, long
		}},
		{"negative numbers", func(e *accessEntry) {
			e.status, e.bytes, e.duration = -1, math.MinInt64, -1500
		}},
		{"zero duration", func(e *accessEntry) { e.duration = 0 }},
		{"sub-microsecond duration", func(e *accessEntry) {
			e.duration = 999
		}},
		{"whole milliseconds", func(e *accessEntry) {
			e.duration = 20 * time.Millisecond
		}},
		{"largest duration", func(e *accessEntry) {
			e.duration = math.MaxInt64
		}},
		{"smallest duration", func(e *accessEntry) {
			e.duration = math.MinInt64
		}},
		{"duration at exact limit", func(e *accessEntry) {
			e.duration = maxExactMicros * time.Microsecond
		}},
		{"duration below exact limit", func(e *accessEntry) {
			e.duration = (maxExactMicros - 1) * time.Microsecond
		}},
		{"zero time", func(e *accessEntry) { e.time = time.Time{} }},
		{"year 0", func(e *accessEntry) {
			e.time = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
		}},
		{"year 10000", func(e *accessEntry) {
			e.time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		}},
		{"negative year", func(e *accessEntry) {
			e.time = time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC)
		}},
		{"monotonic clock reading", func(e *accessEntry) {
			e.time = time.Now()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, loc := range zones {
				e := fullEntry()
				tt.edit(&e)
				e.time = e.time.In(loc)
				checkSameAsSlog(t, &e)
			}
		})
	}
}

// TestAccessJSONMatchesSlogRandom compares the two encodings of random
// entries made of hostile pieces. The seed is fixed, so a failure
// repeats.
func TestAccessJSONMatchesSlogRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		e := randomEntry(rng)
		checkSameAsSlog(t, &e)
	}
}

// stringPieces are the parts randomString joins: ASCII, every kind of
// character that JSON or slog escapes, valid multi-byte UTF-8, and
// invalid UTF-8 of several kinds.
var stringPieces = []string{
	"a", "Z", "09", " ", "/", "%2F", "-_.:", "<", ">", "&", "'", `"`, `\`,
	"\x00", "\x01", "\x08", "\x0c", "\x1f", "\t", "\n", "\r", "\x7f",
	"é", "ü", "中", "😀", "\u2028", "\u2029", "\u2027", "\u202a",
	"\ufffd", "\xff", "\x80", "\xbf", "\xc0\xae", "\xc3", "\xe2\x82",
	"\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x9f\x98",
}

func randomString(rng *rand.Rand) string {
	n := rng.IntN(12)
	switch rng.IntN(20) {
	case 0:
		return ""
	case 1:
		n = 500 + rng.IntN(1500)
	case 2:
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return string(b)
	}
	var b strings.Builder
	for range n {
		b.WriteString(stringPieces[rng.IntN(len(stringPieces))])
	}
	return b.String()
}

func randomTime(rng *rand.Rand) time.Time {
	if rng.IntN(50) == 0 {
		return time.Time{}
	}
	year := rng.IntN(10002) - 1
	offset := (rng.IntN(49) - 24) * 1800
	if rng.IntN(10) == 0 {
		offset += rng.IntN(3600)
	}
	return time.Date(year, time.Month(1+rng.IntN(12)), 1+rng.IntN(31),
		rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1e9),
		time.FixedZone("z", offset))
}

func randomDuration(rng *rand.Rand) time.Duration {
	switch rng.IntN(7) {
	case 0:
		return time.Duration(rng.Int64())
	case 1:
		return -time.Duration(rng.Int64())
	case 2:
		// Near the limit of appendMillis's exact decimals.
		d := maxExactMicros*int64(time.Microsecond) +
			rng.Int64N(4e9) - 2e9
		if rng.IntN(2) == 0 {
			d = -d
		}
		return time.Duration(d)
	case 3:
		return time.Duration(rng.Int64N(1000)) * time.Microsecond
	case 4:
		// Any number of digits that appendMillis writes exactly.
		micros := rng.Int64N(1 << rng.IntN(50))
		return time.Duration(micros) * time.Microsecond
	}
	return time.Duration(rng.Int64N(int64(10 * time.Second)))
}

func randomEntry(rng *rand.Rand) accessEntry {
	return accessEntry{
		time:         randomTime(rng),
		id:           randomString(rng),
		method:       randomString(rng),
		route:        randomString(rng),
		path:         randomString(rng),
		status:       int(rng.Int32()) - math.MaxInt16,
		bytes:        rng.Int64() - math.MaxInt32,
		duration:     randomDuration(rng),
		client:       randomString(rng),
		model:        randomString(rng),
		download:     rng.IntN(2) == 0,
		hasError:     rng.IntN(2) == 0,
		errorMessage: randomString(rng),
	}
}

// FuzzAccessLogJSON checks that appendAccessJSON writes every entry byte
// for byte as slog.JSONHandler does. The seed corpus is in
// testdata/fuzz.
func FuzzAccessLogJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, id, method, route, path, client, model,
		errorMessage string, status int, size, duration, unixNano int64,
		download, hasError bool,
	) {
		e := accessEntry{
			time: time.Unix(0, unixNano).In(time.FixedZone("z",
				int(unixNano%(14*3600)))),
			id: id, method: method, route: route, path: path,
			status: status, bytes: size,
			duration: time.Duration(duration), client: client,
			model: model, download: download, hasError: hasError,
			errorMessage: errorMessage,
		}
		checkSameAsSlog(t, &e)
	})
}

// steppingClock returns a clock that advances by step on every call,
// so that two servers that make the same calls see the same times.
func steppingClock(step time.Duration) func() time.Time {
	t := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("z", 3600))
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

// accessLogRequests are requests whose records carry each optional
// field, an error message, hostile bytes in the path and a path longer
// than the log keeps.
func accessLogRequests() []*http.Request {
	targets := []struct{ method, target string }{
		{"GET", "/acme/tiny/resolve/main/config.json"},
		{"HEAD", "/acme/tiny/resolve/main/config.json"},
		{"GET", "/acme/tiny/resolve/main/missing.bin?token=secret"},
		{"GET", "/acme/tiny/resolve/main/%ff%22%3C%E2%80%A8.json"},
		{"GET", "/acme/tiny/resolve/main/" + strings.Repeat("%C3%A9", 400)},
		{"GET", "/api/models/acme/tiny"},
		{"PROPFIND", "/api/models"},
		{"GET", "/healthz"},
		{"GET", "/no/such/route/<script>&"},
	}
	var reqs []*http.Request
	for i, tt := range targets {
		r := httptest.NewRequest(tt.method, tt.target, nil)
		r.Header.Set("X-Request-Id", "req-"+string(rune('a'+i)))
		r.RemoteAddr = "192.0.2.7:40000"
		reqs = append(reqs, r)
	}
	return reqs
}

// TestAccessLogJSONMatchesLogger serves the same requests with the
// access log written through a slog.JSONHandler and through
// Config.JSONAccessLog, and compares the whole logs.
func TestAccessLogJSONMatchesLogger(t *testing.T) {
	var viaSlog, direct bytes.Buffer
	slogSrv := newFixtureServer(t, Config{
		Logger: slog.New(slog.NewJSONHandler(&viaSlog, nil)),
		Now:    steppingClock(1234567 * time.Nanosecond)})
	directSrv := newFixtureServer(t, Config{
		Logger:        slog.New(slog.NewJSONHandler(&direct, nil)),
		JSONAccessLog: &direct,
		Now:           steppingClock(1234567 * time.Nanosecond)})
	for _, r := range accessLogRequests() {
		serve(slogSrv, r.Clone(context.Background()))
		serve(directSrv, r.Clone(context.Background()))
	}
	want := viaSlog.String()
	if n := strings.Count(want, `"msg":"request"`); n !=
		len(accessLogRequests()) {
		t.Fatalf("slog log has %d access records, want %d:\n%s", n,
			len(accessLogRequests()), want)
	}
	if got := direct.String(); got != want {
		t.Errorf("JSONAccessLog log differs from the slog log\n"+
			" got:\n%s\nwant:\n%s", got, want)
	}
}

// TestJSONAccessLogLevel checks that Config.JSONAccessLog gets records
// only when the logger enables LevelInfo.
func TestJSONAccessLogLevel(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  int
	}{
		{slog.LevelDebug, 1},
		{slog.LevelInfo, 1},
		{slog.LevelWarn, 0},
		{slog.LevelError, 0},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			var logs bytes.Buffer
			opts := &slog.HandlerOptions{Level: tt.level}
			srv := newFixtureServer(t, Config{
				Logger:        slog.New(slog.NewJSONHandler(&logs, opts)),
				JSONAccessLog: &logs})
			serve(srv, httptest.NewRequest("GET", "/healthz", nil))
			got := strings.Count(logs.String(), `"msg":"request"`)
			if got != tt.want {
				t.Errorf("level %v: %d access records, want %d:\n%s",
					tt.level, got, tt.want, logs.String())
			}
		})
	}
}

// TestJSONAccessLogAllocs checks that a record costs no allocation
// once the buffer pool is warm. The pool may drop its buffers at a
// garbage collection, so the check allows a fraction of one per record.
func TestJSONAccessLogAllocs(t *testing.T) {
	l := newJSONAccessLog(io.Discard)
	e := fullEntry()
	allocs := testing.AllocsPerRun(1000, func() { l.write(&e) })
	if allocs > 0.1 {
		t.Errorf("jsonAccessLog.write: %v allocations per record, want 0",
			allocs)
	}
}
