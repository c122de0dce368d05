package logbuf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an underlying writer that keeps each Write call's bytes.
// When fail is set, it decides the result of each call, numbered from
// 1, and only calls that return len(p), nil are kept.
type recorder struct {
	mu     sync.Mutex
	writes []string
	fail   func(call int, p []byte) (n int, err error)
	calls  int
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail != nil {
		if n, err := r.fail(r.calls, p); n < len(p) || err != nil {
			return n, err
		}
	}
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

// got returns the successful writes so far.
func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

// fakeTimer is a flush timer that fires only when the test calls fire.
type fakeTimer struct {
	f      func()
	d      time.Duration
	active bool
	resets int
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	was := t.active
	t.d, t.active = d, true
	t.resets++
	return was
}

func (t *fakeTimer) Stop() bool {
	was := t.active
	t.active = false
	return was
}

// fire runs the flush as the timer would.
func (t *fakeTimer) fire() {
	t.active = false
	t.f()
}

// newFakeWriter returns a Writer over a new recorder whose flush timer
// is a fakeTimer, created on the first buffered line.
func newFakeWriter(size int, interval time.Duration) (*Writer, *recorder,
	**fakeTimer,
) {
	out := &recorder{}
	var ft *fakeTimer
	w := newWriter(out, size, interval,
		func(d time.Duration, f func()) timer {
			ft = &fakeTimer{f: f, d: d, active: true}
			return ft
		})
	return w, out, &ft
}

// writeLines writes each line to w as one call.
func writeLines(tb testing.TB, w io.Writer, lines ...string) {
	tb.Helper()
	for _, l := range lines {
		n, err := w.Write([]byte(l))
		if n != len(l) || err != nil {
			tb.Fatalf("Write(%q) = %d, %v, want %d, nil", l, n, err,
				len(l))
		}
	}
}

func checkWrites(tb testing.TB, out *recorder, want ...string) {
	tb.Helper()
	got := out.got()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		tb.Errorf("writes to the underlying writer = %q, want %q", got,
			want)
	}
}

func TestWriterInterval(t *testing.T) {
	w, out, ft := newFakeWriter(1024, 100*time.Millisecond)
	writeLines(t, w, "a\n", "b\n", "c\n")
	checkWrites(t, out)
	if *ft == nil || !(*ft).active {
		t.Fatalf("no flush timer armed after the first line")
	}
	if (*ft).d != 100*time.Millisecond {
		t.Errorf("flush timer set to %v, want 100ms", (*ft).d)
	}

	(*ft).fire()
	checkWrites(t, out, "a\nb\nc\n")

	// The next line arms the same timer again.
	writeLines(t, w, "d\n")
	if !(*ft).active || (*ft).resets != 1 {
		t.Errorf("timer active %v after %d resets, want active after 1",
			(*ft).active, (*ft).resets)
	}
	(*ft).fire()
	checkWrites(t, out, "a\nb\nc\n", "d\n")

	// A timer that fires with nothing buffered writes nothing.
	(*ft).fire()
	checkWrites(t, out, "a\nb\nc\n", "d\n")
}

func TestWriterBatches(t *testing.T) {
	line := func(c string) string { return strings.Repeat(c, 9) + "\n" }
	tests := []struct {
		name   string
		size   int
		lines  []string
		before []string // writes before Close
		after  []string // writes after Close
	}{
		{"fits", 100, []string{line("a"), line("b")}, nil,
			[]string{line("a") + line("b")}},
		{"exactly full", 20, []string{line("a"), line("b")}, nil,
			[]string{line("a") + line("b")}},
		{"overflow", 25, []string{line("a"), line("b"), line("c")},
			[]string{line("a") + line("b")}, []string{line("c")}},
		{"line as large as the buffer", 10, []string{line("a"),
			line("b")}, []string{line("a")}, []string{line("b")}},
		{"line larger than the buffer", 15, []string{"x\n",
			line("a") + line("b"), "y\n"},
			[]string{"x\n", line("a") + line("b")}, []string{"y\n"}},
		{"large line first", 5, []string{line("a"), "y\n"},
			[]string{line("a")}, []string{"y\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, out, _ := newFakeWriter(tt.size, time.Hour)
			writeLines(t, w, tt.lines...)
			checkWrites(t, out, tt.before...)
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			checkWrites(t, out, append(tt.before, tt.after...)...)
		})
	}
}

func TestWriterZeroInterval(t *testing.T) {
	w, out, ft := newFakeWriter(1024, 0)
	writeLines(t, w, "a\n", "b\n")
	checkWrites(t, out, "a\n", "b\n")
	if *ft != nil {
		t.Errorf("interval 0 armed a flush timer")
	}
}

func TestWriterClose(t *testing.T) {
	w, out, ft := newFakeWriter(1024, time.Hour)
	writeLines(t, w, "a\n", "b\n")
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkWrites(t, out, "a\nb\n")
	if (*ft).active {
		t.Errorf("flush timer still active after Close")
	}

	// Lines after Close are written at once and not lost.
	writeLines(t, w, "c\n")
	checkWrites(t, out, "a\nb\n", "c\n")
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	checkWrites(t, out, "a\nb\n", "c\n")
}

var errDiskFull = errors.New("disk full")

func TestWriterWriteErrors(t *testing.T) {
	tests := []struct {
		name    string
		fail    func(call int, p []byte) (int, error)
		wantErr error
	}{
		{"error", func(call int, p []byte) (int, error) {
			if call <= 2 {
				return 0, errDiskFull
			}
			return len(p), nil
		}, errDiskFull},
		{"short write", func(call int, p []byte) (int, error) {
			if call <= 2 {
				return 1, nil
			}
			return len(p), nil
		}, io.ErrShortWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, out, ft := newFakeWriter(4, time.Hour)
			out.fail = tt.fail
			// The first two batches fail and are dropped, and Write
			// never reports it.
			writeLines(t, w, "a\n", "b\n")
			(*ft).fire()
			writeLines(t, w, "c\n", "d\n")
			(*ft).fire()
			writeLines(t, w, "e\n")
			checkWrites(t, out)

			err := w.Close()
			checkWrites(t, out, "e\n")
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Close() = %v, want %v", err, tt.wantErr)
			}
			if err == nil || !strings.Contains(err.Error(), "2 writes") {
				t.Errorf("Close() = %v, want it to count 2 writes", err)
			}
		})
	}
}

// TestWriterRealTimer checks that New's timer writes a line without
// Close. It waits for the line as long as it takes, up to a bound far
// above the interval, so it asserts no timing.
func TestWriterRealTimer(t *testing.T) {
	out := &recorder{}
	w := New(out, DefaultSize, time.Millisecond)
	t.Cleanup(func() { w.Close() })
	writeLines(t, w, "a\n")
	deadline := time.Now().Add(10 * time.Second)
	for len(out.got()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("line not written 10s after Write")
		}
		time.Sleep(time.Millisecond)
	}
	checkWrites(t, out, "a\n")
}

// TestWriterConcurrent writes from several goroutines while the timer
// flushes, and checks that every line arrives once, whole, and in the
// order in which its goroutine wrote it. Run it with -race.
func TestWriterConcurrent(t *testing.T) {
	const goroutines, lines, size = 4, 2000, 256
	out := &recorder{}
	w := New(out, size, 50*time.Microsecond)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(w, "g%d line %d\n", g, i)
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	next := make([]int, goroutines)
	for _, batch := range out.got() {
		if len(batch) > size || !strings.HasSuffix(batch, "\n") {
			t.Fatalf("write of %d bytes %q is over %d bytes or ends "+
				"inside a line", len(batch), batch, size)
		}
		for _, l := range strings.SplitAfter(batch, "\n") {
			if l == "" {
				continue
			}
			var g, i int
			if _, err := fmt.Sscanf(l, "g%d line %d\n", &g, &i); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			if i != next[g] {
				t.Fatalf("goroutine %d: line %d, want %d", g, i, next[g])
			}
			next[g]++
		}
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("goroutine %d: %d lines written, want %d", g, n,
				lines)
		}
	}
}

func TestNewRejectsInvalid(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		interval time.Duration
	}{
		{"zero size", 0, time.Second},
		{"negative interval", 1024, -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%d, %v) did not panic", tt.size,
						tt.interval)
				}
			}()
			New(io.Discard, tt.size, tt.interval)
		})
	}
}

// BenchmarkWriter measures one 300-byte line written at once and
// buffered, to /dev/null, which costs the system call alone, and to a
// pipe that a goroutine drains, as a container runtime reads stderr.
func BenchmarkWriter(b *testing.B) {
	line := []byte(strings.Repeat("x", 299) + "\n")
	targets := []struct {
		name string
		open func(testing.TB) io.Writer
	}{
		{"devnull", openDevNull},
		{"pipe", openDrainedPipe},
	}
	for _, target := range targets {
		for _, interval := range []time.Duration{0, 100 * time.Millisecond} {
			name := fmt.Sprintf("%s/interval=%v", target.name, interval)
			b.Run(name, func(b *testing.B) {
				w := New(target.open(b), DefaultSize, interval)
				b.ReportAllocs()
				for b.Loop() {
					w.Write(line)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

func openDevNull(tb testing.TB) io.Writer {
	tb.Helper()
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// openDrainedPipe returns the write end of a pipe whose read end a
// goroutine discards until the cleanup closes the pipe.
func openDrainedPipe(tb testing.TB) io.Writer {
	tb.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, r)
		close(done)
	}()
	tb.Cleanup(func() {
		w.Close()
		<-done
		r.Close()
	})
	return w
}
