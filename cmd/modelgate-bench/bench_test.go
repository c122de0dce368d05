package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	thousand := make([]time.Duration, 1000)
	for i := range thousand {
		thousand[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 99, 7 * time.Millisecond},
		{"median of four", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of four", ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{"p50 of 100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 100", hundred, 100, 100 * time.Millisecond},
		{"tiny p", ms(1, 2, 3), 0.001, time.Millisecond},
		{"p99.5 of 1000", thousand, 99.5, 995 * time.Millisecond},
		{"p99.9 of 1000", thousand, 99.9, 999 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%d values, %v) = %v, want %v",
					len(tt.sorted), tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarizeLatenciesSorts(t *testing.T) {
	lat := []time.Duration{5, 1, 4, 2, 3}
	got := summarizeLatencies(lat)
	want := latencySummary{P50: 3, P90: 5, P99: 5, P995: 5, P999: 5, Max: 5}
	if got != want {
		t.Errorf("summarizeLatencies = %+v, want %+v", got, want)
	}
}

func TestParseProcStat(t *testing.T) {
	// Fields after the name: state ppid pgrp session tty_nr tpgid flags
	// minflt cminflt majflt cmajflt utime stime ...
	tests := []struct {
		name       string
		line       string
		user, syst time.Duration
	}{
		{"plain name",
			"1234 (modelgate) S 1 1234 1234 0 -1 4194560 500 0 0 0 " +
				"250 75 0 0 20 0 8 0 100 0 0\n",
			2500 * time.Millisecond, 750 * time.Millisecond},
		{"name with spaces and parentheses",
			"42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0\n",
			70 * time.Millisecond, 30 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.line))
			if err != nil {
				t.Fatalf("parseProcStat(%q): %v", tt.line, err)
			}
			if got.User != tt.user {
				t.Errorf("parseProcStat(%q).User = %v, want %v", tt.line,
					got.User, tt.user)
			}
			if got.System != tt.syst {
				t.Errorf("parseProcStat(%q).System = %v, want %v",
					tt.line, got.System, tt.syst)
			}
		})
	}
}

func TestParseProcStatRejects(t *testing.T) {
	for _, line := range []string{
		"",
		"1234 modelgate S 1",
		"1234 (modelgate) S 1 2 3",
		"1234 (modelgate) S 1 1234 1234 0 -1 0 0 0 0 0 x 75 0\n",
	} {
		if got, err := parseProcStat([]byte(line)); err == nil {
			t.Errorf("parseProcStat(%q) = %+v, want an error", line, got)
		}
	}
}

func TestParseProcStatus(t *testing.T) {
	text := "Name:\tmodelgate\nVmPeak:\t 1300000 kB\nVmHWM:\t   70000 kB\n" +
		"VmRSS:\t   65536 kB\nThreads:\t8\n"
	got, err := parseProcStatus([]byte(text))
	if err != nil {
		t.Fatalf("parseProcStatus: %v", err)
	}
	if want := int64(65536) << 10; got.RSS != want {
		t.Errorf("RSS = %d, want %d", got.RSS, want)
	}
	if want := int64(70000) << 10; got.HWM != want {
		t.Errorf("HWM = %d, want %d", got.HWM, want)
	}
}

func TestParseProcStatusRejects(t *testing.T) {
	for _, text := range []string{
		"Name:\tzombie\nState:\tZ (zombie)\n",
		"VmHWM:\t 10 kB\nVmRSS:\t 10 MB\n",
		"VmHWM:\t 10 kB\nVmRSS:\t ten kB\n",
	} {
		if got, err := parseProcStatus([]byte(text)); err == nil {
			t.Errorf("parseProcStatus(%q) = %+v, want an error", text, got)
		}
	}
}

func TestParseRuntimeStats(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 27
go_memstats_heap_inuse_bytes 3.1457280e+07
go_memstats_mallocs_total_extra{x="y"} 5
go_memstats_mallocs_total 1.234567e+06
`
	got, err := parseRuntimeStats(text)
	if err != nil {
		t.Fatalf("parseRuntimeStats: %v", err)
	}
	want := runtimeStats{Mallocs: 1234567, HeapInuse: 31457280,
		Goroutines: 27}
	if got != want {
		t.Errorf("parseRuntimeStats = %+v, want %+v", got, want)
	}
}

func TestParseMetricMissing(t *testing.T) {
	text := "go_goroutines_total 3\ngo_goroutines{a=\"b\"} 4\n"
	if v, err := parseMetric(text, "go_goroutines"); err == nil {
		t.Errorf("parseMetric = %v, want an error for a missing metric", v)
	}
}

func TestReadResponseHead(t *testing.T) {
	tests := []struct {
		name     string
		response string
		status   int
		close    bool
		rest     string // what must remain after the body
	}{
		{"redirect with empty body",
			"HTTP/1.1 302 Found\r\nLocation: http://x/y\r\n" +
				"Content-Length: 0\r\n\r\nNEXT", 302, false, "NEXT"},
		{"body skipped",
			"HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\n\r\nhelloNEXT",
			404, false, "NEXT"},
		{"chunked body skipped",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"3\r\nabc\r\n0\r\n\r\nNEXT", 200, false, "NEXT"},
		{"connection close",
			"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n" +
				"Content-Length: 2\r\n\r\n{}NEXT", 503, true, "NEXT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.response))
			h, err := readResponseHead(br)
			if err != nil {
				t.Fatalf("readResponseHead: %v", err)
			}
			if h.status != tt.status {
				t.Errorf("status = %d, want %d", h.status, tt.status)
			}
			if h.close != tt.close {
				t.Errorf("close = %v, want %v", h.close, tt.close)
			}
			if err := skipBody(br, h); err != nil {
				t.Fatalf("skipBody: %v", err)
			}
			rest, _ := br.ReadString(0)
			if rest != tt.rest {
				t.Errorf("after the body %q remains, want %q", rest,
					tt.rest)
			}
		})
	}
}

func TestReadResponseHeadRejects(t *testing.T) {
	for _, response := range []string{
		"HTTP/1.0 200 OK\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\n",
	} {
		br := bufio.NewReader(strings.NewReader(response))
		if h, err := readResponseHead(br); err == nil {
			t.Errorf("readResponseHead(%q) = %+v, want an error",
				response, h)
		}
	}
}

func TestSoakGrowths(t *testing.T) {
	var points []soakPoint
	for i := range 10 {
		points = append(points, soakPoint{
			Elapsed:    time.Duration(i+1) * time.Second,
			RSS:        int64(100+10*i) << 20,
			HeapInuse:  50 << 20,
			Goroutines: 20,
		})
	}
	// The first point is in the warm-up, so the thirds are points
	// 2..4 and 8..10: RSS means 120 and 180 MiB.
	got := soakGrowths(points, time.Second)
	if len(got) != 3 {
		t.Fatalf("soakGrowths returned %d series, want 3", len(got))
	}
	if got[0].First != 120 || got[0].Last != 180 || got[0].Growth != 0.5 {
		t.Errorf("RSS growth = %+v, want 120 -> 180, 0.5", got[0])
	}
	if got[1].Growth != 0 || got[2].Growth != 0 {
		t.Errorf("heap and goroutine growth = %v, %v, want 0, 0",
			got[1].Growth, got[2].Growth)
	}
}

func TestDownloadPathsCoverBucket(t *testing.T) {
	l := bucketLayout{Models: 3, FilesPerModel: 2}
	paths := l.downloadPaths()
	if len(paths) != l.Objects() {
		t.Fatalf("%d paths, want %d", len(paths), l.Objects())
	}
	want := "/org-000/model-0002/resolve/main/model-00002-of-00002.safetensors"
	if paths[5] != want {
		t.Errorf("paths[5] = %q, want %q", paths[5], want)
	}
	if k := l.key(2, 1); "/"+k != strings.Replace(want, "/resolve/main", "", 1) {
		t.Errorf("key(2, 1) = %q does not match path %q", k, want)
	}
}

func TestStaticRouterExtraHeaders(t *testing.T) {
	var extra headerList
	for _, field := range []string{"X-Repo-Commit: abc", "Etag: \"e\""} {
		if err := extra.Set(field); err != nil {
			t.Fatalf("Set(%q): %v", field, err)
		}
	}
	srv := httptest.NewServer(staticRouter("http://127.0.0.1:1/f", extra))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request,
		[]*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Get(srv.URL + "/acme/tiny/resolve/main/x.bin")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, want 302", resp.StatusCode)
	}
	want := map[string]string{"Location": "http://127.0.0.1:1/f",
		"X-Repo-Commit": "abc", "Etag": `"e"`}
	for name, value := range want {
		if got := resp.Header.Get(name); got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
}

func TestHeaderListRejects(t *testing.T) {
	var l headerList
	for _, v := range []string{"no colon", ": value", ""} {
		if err := l.Set(v); err == nil {
			t.Errorf("Set(%q) = nil, want an error", v)
		}
	}
}

func TestCopiedFieldsSkipsFraming(t *testing.T) {
	h := http.Header{"Location": {"u"}, "Date": {"d"},
		"Content-Length": {"0"}, "X-Linked-Size": {"5"},
		"Ratelimit-Limit": {"2"}}
	var all fieldSet
	if err := all.Set("all"); err != nil {
		t.Fatal(err)
	}
	got, err := copiedFields(h, all)
	want := headerList{"Ratelimit-Limit: 2", "X-Linked-Size: 5"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("copiedFields(all) = %q, %v, want %q", got, err, want)
	}
}

func TestCopiedFieldsByName(t *testing.T) {
	h := http.Header{"Location": {"u"}, "X-Linked-Size": {"5"},
		"Ratelimit-Limit": {"2"}, "Etag": {`"e"`}}
	var set fieldSet
	if err := set.Set("etag, x-linked-size"); err != nil {
		t.Fatal(err)
	}
	got, err := copiedFields(h, set)
	want := headerList{`Etag: "e"`, "X-Linked-Size: 5"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("copiedFields = %q, %v, want %q", got, err, want)
	}

	if err := set.Set("X-Missing"); err != nil {
		t.Fatal(err)
	}
	_, err = copiedFields(h, set)
	wantErr := "has no X-Missing field; it has Etag, Ratelimit-Limit, " +
		"X-Linked-Size"
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Errorf("copiedFields with a missing field: error %v, want "+
			"one containing %q", err, wantErr)
	}
}

func TestFieldSetRejects(t *testing.T) {
	for _, v := range []string{"", " , ", "Bad Name", "a:b", "Location",
		"etag,date"} {
		var f fieldSet
		if err := f.Set(v); err == nil {
			t.Errorf("Set(%q) = nil, want an error", v)
		}
	}
}
