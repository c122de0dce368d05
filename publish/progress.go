package publish

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Reporter receives the progress of a run. Its methods may be called
// from several goroutines at once.
type Reporter interface {
	// Begin starts a phase, "hash" or "upload", of files totalling
	// bytes.
	Begin(phase string, files int, bytes int64)

	// Update reports that done of the size bytes of the file at path
	// are complete. The first call for a path starts that file.
	Update(path string, done, size int64)

	// Done reports that the file at path finished, with its error.
	Done(path string, err error)

	// End ends the phase.
	End()
}

type nopReporter struct{}

func (nopReporter) Begin(string, int, int64)    {}
func (nopReporter) Update(string, int64, int64) {}
func (nopReporter) Done(string, error)          {}
func (nopReporter) End()                        {}

// LogReporter writes one plain line per phase and per uploaded file, for
// output that is not a terminal. It is safe for concurrent use.
type LogReporter struct {
	w     io.Writer
	mu    sync.Mutex
	phase string
	sizes map[string]int64
}

// NewLogReporter returns a LogReporter that writes to w.
func NewLogReporter(w io.Writer) *LogReporter {
	return &LogReporter{w: w, sizes: make(map[string]int64)}
}

// Begin writes the phase's totals.
func (r *LogReporter) Begin(phase string, files int, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase = phase
	fmt.Fprintf(r.w, "%s: %d files, %s\n", phase, files,
		FormatBytes(bytes))
}

// Update records the file's size for its final line.
func (r *LogReporter) Update(path string, _, size int64) {
	r.mu.Lock()
	r.sizes[path] = size
	r.mu.Unlock()
}

// Done writes a line for an uploaded file, and for any failure.
func (r *LogReporter) Done(path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := r.sizes[path]
	delete(r.sizes, path)
	switch {
	case err != nil:
		fmt.Fprintf(r.w, "%s failed: %s: %v\n", r.phase, path, err)
	case r.phase == "upload":
		fmt.Fprintf(r.w, "uploaded %s (%s)\n", path, FormatBytes(size))
	}
}

// End does nothing; each line is complete when written.
func (r *LogReporter) End() {}

// FormatBytes formats n with a binary unit, such as "1.5 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div),
		"KMGTPE"[exp])
}

// formatETA formats a remaining time as M:SS or H:MM:SS.
func formatETA(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// bar draws a progress bar of width cells, frac of them filled.
func bar(frac float64, width int) string {
	frac = min(max(frac, 0), 1)
	full := int(frac * float64(width))
	return "[" + strings.Repeat("=", full) +
		strings.Repeat(" ", width-full) + "]"
}

// progressLine formats one bar line: label, bar, percentage, bytes, and
// when elapsed is long enough to tell, the rate and remaining time.
func progressLine(label string, done, total int64,
	elapsed time.Duration,
) string {
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	line := fmt.Sprintf("%s %s %3.0f%% %s / %s", label, bar(frac, 20),
		frac*100, FormatBytes(done), FormatBytes(total))
	if elapsed < 100*time.Millisecond || done == 0 {
		return line
	}
	rate := float64(done) / elapsed.Seconds()
	eta := time.Duration(float64(total-done) / rate * float64(time.Second))
	return line + fmt.Sprintf("  %s/s  ETA %s",
		FormatBytes(int64(rate)), formatETA(eta))
}
