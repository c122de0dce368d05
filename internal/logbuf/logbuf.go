// Package logbuf batches log lines in memory, so that a busy process
// makes one write system call per batch instead of one per line.
package logbuf

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultSize is the buffer size that modelgate serve uses, in bytes.
const DefaultSize = 64 << 10

// timer is the part of *time.Timer that Writer uses, so that tests can
// fire the flush themselves.
type timer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

// Writer buffers whole lines and writes them to an underlying writer in
// batches. Each Write call must be whole lines, as a slog.Handler's are.
// A batch is written when the next line does not fit in the buffer, at
// most the flush interval after its first byte was buffered, and at
// Close. A line is never split across two writes to the underlying
// writer, and a line larger than the buffer is written on its own.
// Lines reach the underlying writer in the order of the Write calls.
//
// A failed write to the underlying writer drops its batch: the lines
// are lost, Close reports how many writes failed, and Write never
// returns the error. So a failing destination, such as a full disk,
// never makes Write fail, and memory stays bounded because nothing is
// kept for a retry. A write that blocks, such as to a pipe whose reader
// has stopped reading, still stalls Write once the buffer is full, as
// it stalls an unbuffered logger.
//
// A Writer is safe for concurrent use. Its buffers take 2*size bytes.
type Writer struct {
	out       io.Writer
	size      int
	interval  time.Duration
	afterFunc func(time.Duration, func()) timer

	// writeMu is held while a batch or a line is written to out, and
	// while a batch is taken from buf, so that batches are written in
	// the order in which they were taken. It is taken before mu.
	writeMu sync.Mutex
	// failed counts the writes to out that failed, and lastErr is the
	// last of their errors. writeMu guards both.
	failed  int
	lastErr error

	// mu guards the fields below. Write appends to buf under mu alone,
	// so lines are buffered while a batch is being written.
	mu     sync.Mutex
	buf    []byte
	spare  []byte // the other buffer, nil while its batch is written
	timer  timer  // nil until the first line is buffered
	closed bool
}

// New returns a Writer that buffers up to size bytes of lines for at
// most interval before writing them to out. An interval of 0 writes
// each line at once. New panics when size is not positive or interval
// is negative.
func New(out io.Writer, size int, interval time.Duration) *Writer {
	return newWriter(out, size, interval,
		func(d time.Duration, f func()) timer {
			return time.AfterFunc(d, f)
		})
}

func newWriter(out io.Writer, size int, interval time.Duration,
	afterFunc func(time.Duration, func()) timer,
) *Writer {
	if size <= 0 || interval < 0 {
		panic(fmt.Sprintf("logbuf: invalid size %d or interval %v",
			size, interval))
	}
	w := &Writer{out: out, size: size, interval: interval,
		afterFunc: afterFunc}
	if interval > 0 {
		w.buf = make([]byte, 0, size)
		w.spare = make([]byte, 0, size)
	}
	return w
}

// Write buffers p, which must be one or more whole lines. It writes the
// buffered lines to the underlying writer first when p does not fit
// after them. It always returns len(p), nil.
func (w *Writer) Write(p []byte) (int, error) {
	if w.tryAppend(p) {
		return len(p), nil
	}
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	w.flushLocked()
	// Other goroutines may have buffered lines meanwhile. Those lines
	// come from concurrent calls, so p may go before or after them.
	if !w.tryAppend(p) {
		w.writeOut(p)
	}
	return len(p), nil
}

// tryAppend appends p to the buffer when it fits, and reports whether
// it did.
func (w *Writer) tryAppend(p []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.interval == 0 || len(w.buf)+len(p) > w.size {
		return false
	}
	w.appendLocked(p)
	return true
}

// appendLocked appends p to the buffer and, when p is the buffer's first
// line, schedules the flush. w.mu must be held.
func (w *Writer) appendLocked(p []byte) {
	first := len(w.buf) == 0
	w.buf = append(w.buf, p...)
	if !first {
		return
	}
	if w.timer == nil {
		w.timer = w.afterFunc(w.interval, w.Flush)
		return
	}
	// A timer that has fired or is about to fire may flush this line
	// early, which is harmless.
	w.timer.Reset(w.interval)
}

// Flush writes the buffered lines to the underlying writer now.
func (w *Writer) Flush() {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	w.flushLocked()
}

// flushLocked writes the buffered lines to the underlying writer.
// w.writeMu must be held. Lines that arrive during the write go to the
// other buffer.
func (w *Writer) flushLocked() {
	w.mu.Lock()
	batch := w.buf
	if len(batch) == 0 {
		w.mu.Unlock()
		return
	}
	w.buf, w.spare = w.spare, nil
	w.mu.Unlock()

	w.writeOut(batch)

	w.mu.Lock()
	w.spare = batch[:0]
	w.mu.Unlock()
}

// writeOut writes b to the underlying writer and records a failure.
// w.writeMu must be held.
func (w *Writer) writeOut(b []byte) {
	n, err := w.out.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.failed++
		w.lastErr = err
	}
}

// Close writes the buffered lines and stops the flush timer. Later
// writes go to the underlying writer at once, so lines logged while a
// process exits are kept. Close does not close the underlying writer.
// It returns an error when any write to the underlying writer has
// failed since New. Close may be called more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()

	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	w.flushLocked()
	if w.failed > 0 {
		return fmt.Errorf("logbuf: %d writes to the log failed and their "+
			"lines were dropped; the last error: %w", w.failed, w.lastErr)
	}
	return nil
}
