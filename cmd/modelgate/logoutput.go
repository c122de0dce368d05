package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/modelgate/modelgate/internal/logbuf"
	"github.com/modelgate/modelgate/server"
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
	if strings.EqualFold(o.logFormat, "json") {
		o.accessLog = w
	}
	return slog.New(flushingHandler{log.Handler(), w}), w, nil
}

// flushingHandler writes every record other than an access-log record
// to the log at once. Start-up, warning and error lines are rare, and an
// operator waiting for one should not wait for the flush interval.
type flushingHandler struct {
	slog.Handler
	w *logbuf.Writer
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Message != server.AccessLogMessage {
		h.w.Flush()
	}
	return err
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(attrs), h.w}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.w}
}

// closeLog writes the lines still buffered in w and reports on stderr
// when writes to the log have failed, which may fail in turn when stderr
// is the log.
func closeLog(w *logbuf.Writer, stderr io.Writer, command string) {
	if err := w.Close(); err != nil {
		fmt.Fprintf(stderr, "modelgate %s: %v\n", command, err)
	}
}
