package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
)

// trackedServer is an http.Server that counts its open connections, so
// that a drain cut short can report how many it closed.
type trackedServer struct {
	*http.Server
	open atomic.Int64
}

// trackConn is the server's ConnState hook.
func (ts *trackedServer) trackConn(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		ts.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		ts.open.Add(-1)
	}
}

// drain shuts the server down gracefully until ctx ends. Connections
// still open then, such as a client that never finishes sending its
// request, are closed, with a warning that gives their number. So drain
// returns an error only when closing fails, never for the deadline.
func (ts *trackedServer) drain(ctx context.Context, log *slog.Logger) error {
	err := ts.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, context.Canceled) {
		return err
	}
	log.Warn("drain timeout passed; closing the connections still open",
		"addr", ts.Addr, "connections", ts.open.Load())
	if err := ts.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
