package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/modelgate/modelgate/internal/logbuf"
)

// openLog returns the logger of serve and demo, which writes to out
// through a buffered writer with the --log-flush-interval. The caller
// must pass that writer to closeLog before it returns, on every path, or
// the buffered lines are lost. With --log-format json, openLog sets
// o.accessLog to the same writer, so that the access log skips slog's
// encoding and its records stay in order with the other lines.
func (o *serveOptions) openLog(out io.Writer) (*slog.Logger, *logbuf.Writer,
	error,
) {
	w := logbuf.New(out, logbuf.DefaultSize, o.logFlushInterval)
	log, err := newLogger(w, o.logFormat, o.logLevel)
	if err != nil {
		return nil, nil, err
	}
	if o.logFormat == "json" {
		o.accessLog = w
	}
	return log, w, nil
}

// closeLog writes the lines still buffered in w and reports on stderr
// when writes to the log have failed, which may fail in turn when stderr
// is the log.
func closeLog(w *logbuf.Writer, stderr io.Writer, command string) {
	if err := w.Close(); err != nil {
		fmt.Fprintf(stderr, "modelgate %s: %v\n", command, err)
	}
}
