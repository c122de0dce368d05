package publish

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// redrawInterval is the time between redraws of the progress bars.
const redrawInterval = 200 * time.Millisecond

// TerminalReporter draws a bar per file in progress and an overall bar,
// redrawn in place with ANSI escape codes, and prints a line per
// finished upload above them. It is safe for concurrent use.
type TerminalReporter struct {
	w     io.Writer
	width int
	now   func() time.Time

	mu       sync.Mutex
	phase    string
	files    int   // files in the phase
	total    int64 // bytes in the phase
	finished int   // files done
	doneSize int64 // bytes of the files done
	start    time.Time
	active   map[string]*fileProgress
	drawn    int // lines drawn by the last redraw
	stop     chan struct{}
	stopped  chan struct{}
}

// fileProgress is one file in progress.
type fileProgress struct {
	size, done int64
	start      time.Time
}

// NewTerminalReporter returns a reporter that draws on w, a terminal
// width columns wide. A nil now means time.Now.
func NewTerminalReporter(w io.Writer, width int,
	now func() time.Time,
) *TerminalReporter {
	if now == nil {
		now = time.Now
	}
	return &TerminalReporter{w: w, width: max(width, 40), now: now}
}

// Begin starts the phase and its redraws.
func (r *TerminalReporter) Begin(phase string, files int, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase, r.files, r.total = phase, files, bytes
	r.finished, r.doneSize, r.drawn = 0, 0, 0
	r.start = r.now()
	r.active = make(map[string]*fileProgress)
	r.stop, r.stopped = make(chan struct{}), make(chan struct{})
	go r.redrawLoop(r.stop, r.stopped)
}

func (r *TerminalReporter) redrawLoop(stop, stopped chan struct{}) {
	defer close(stopped)
	t := time.NewTicker(redrawInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.mu.Lock()
			r.redraw("")
			r.mu.Unlock()
		}
	}
}

// Update records a file's progress; the next redraw shows it.
func (r *TerminalReporter) Update(path string, done, size int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.active[path]
	if f == nil {
		f = &fileProgress{size: size, start: r.now()}
		r.active[path] = f
	}
	f.done = done
}

// Done removes the file's bar, and prints a line for an upload or a
// failure above the bars.
func (r *TerminalReporter) Done(path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.active[path]
	delete(r.active, path)
	r.finished++
	if f != nil {
		r.doneSize += f.size
	}
	switch {
	case err != nil:
		r.redraw(fmt.Sprintf("%s failed: %s: %v", r.phase, path, err))
	case r.phase == "upload" && f != nil:
		r.redraw(fmt.Sprintf("uploaded %s (%s)", path,
			FormatBytes(f.size)))
	}
}

// End stops the redraws and leaves the overall bar on screen.
func (r *TerminalReporter) End() {
	r.mu.Lock()
	stop, stopped := r.stop, r.stopped
	r.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-stopped

	r.mu.Lock()
	defer r.mu.Unlock()
	r.redraw("")
	r.drawn = 0
	r.stop = nil
}

// redraw moves the cursor up over the last drawing, prints line when it
// is not empty, then draws the bars again. The caller holds r.mu.
func (r *TerminalReporter) redraw(line string) {
	var b strings.Builder
	if r.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", r.drawn)
	}
	if line != "" {
		b.WriteString("\r\x1b[2K" + line + "\n")
	}
	lines := r.render(r.now())
	for _, l := range lines {
		b.WriteString("\r\x1b[2K" + l + "\n")
	}
	r.drawn = len(lines)
	io.WriteString(r.w, b.String())
}

// render returns the bar lines at now: one per file in progress, in the
// order they started, then the overall bar. The caller holds r.mu.
func (r *TerminalReporter) render(now time.Time) []string {
	paths := make([]string, 0, len(r.active))
	for p := range r.active {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool {
		a, b := r.active[paths[i]], r.active[paths[j]]
		return a.start.Before(b.start) ||
			a.start.Equal(b.start) && paths[i] < paths[j]
	})

	nameWidth := max(r.width-72, 12)
	var lines []string
	done := r.doneSize
	for _, p := range paths {
		f := r.active[p]
		done += f.done
		lines = append(lines, r.fit(progressLine(
			"  "+fitName(p, nameWidth), f.done, f.size,
			now.Sub(f.start))))
	}
	label := fmt.Sprintf("%s %d/%d files", r.phase, r.finished, r.files)
	return append(lines, r.fit(progressLine(label, done, r.total,
		now.Sub(r.start))))
}

// fit cuts a line to the terminal width, so that it never wraps. It
// counts runes, which matches the columns of most file names.
func (r *TerminalReporter) fit(line string) string {
	if runes := []rune(line); len(runes) > r.width-1 {
		return string(runes[:r.width-1])
	}
	return line
}

// fitName pads or shortens name to width runes, keeping its end, which
// names the file.
func fitName(name string, width int) string {
	runes := []rune(name)
	if len(runes) > width {
		return "..." + string(runes[len(runes)-(width-3):])
	}
	return name + strings.Repeat(" ", width-len(runes))
}
