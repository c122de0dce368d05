package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/doctor"
)

// Backoff of the background write check after an inconclusive one.
const (
	writeRecheckMin = 5 * time.Second
	writeRecheckMax = 30 * time.Second
)

// writeGuard runs the check that the gateway's credentials cannot write
// to or delete from the bucket, and keeps the gateway not ready until
// the check has completed. It is safe for concurrent use.
type writeGuard struct {
	o       *serveOptions
	log     *slog.Logger
	s3      *s3.Client
	allowed prometheus.Gauge
	stop    context.CancelCauseFunc

	mu      sync.Mutex
	pending error // non-nil until a check completes

	// warned is set after the first inconclusive check is logged. The
	// retries log at debug level, because each names a new probe key
	// and would otherwise repeat the warning every few seconds.
	warned bool
}

// newWriteGuard registers modelgate_write_credentials_allowed in reg.
// stop ends the gateway when a background check finds writable
// credentials.
func newWriteGuard(o *serveOptions, log *slog.Logger, client *s3.Client,
	reg prometheus.Registerer, stop context.CancelCauseFunc,
) *writeGuard {
	g := &writeGuard{o: o, log: log, s3: client, stop: stop,
		pending: errors.New("credentials: write check not done yet")}
	g.allowed = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "modelgate_write_credentials_allowed",
		Help: "1 when the gateway runs with credentials that can write " +
			"to or delete from the bucket, allowed by " +
			"--allow-write-credentials; 0 otherwise.",
	})
	reg.MustRegister(g.allowed)
	return g
}

// Start runs the write check under --write-check-timeout. It returns an
// error when the credentials can write and --allow-write-credentials is
// not set. When the check is inconclusive, for example because S3 is
// unreachable, it returns nil and repeats the check in the background
// until it completes or ctx ends. Until then Status reports not ready.
func (g *writeGuard) Start(ctx context.Context) error {
	if g.o.skipWriteCheck {
		g.setPending(nil)
		return nil
	}
	done, err := g.checkOnce(ctx)
	if done || err != nil {
		return err
	}
	go g.recheck(ctx)
	return nil
}

// Status returns nil once a check has completed, and before that the
// reason the gateway is not ready, as a fixed phrase for /readyz.
func (g *writeGuard) Status() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pending
}

func (g *writeGuard) setPending(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending = err
}

// checkOnce runs one check. It reports whether the check completed,
// and an error when the credentials can write without the override.
func (g *writeGuard) checkOnce(ctx context.Context) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, g.o.writeCheckTimeout)
	defer cancel()
	res := doctor.CheckWrites(cctx, g.s3, g.o.bucket, g.o.root)

	switch res.Access() {
	case doctor.AccessDenied:
		g.log.Info("write check passed: the credentials cannot write "+
			"to or delete from the bucket", "result", res.String())
		g.setPending(nil)
		return true, nil
	case doctor.AccessAllowed:
		if !g.o.allowWrite {
			return true, fmt.Errorf("refusing to start: the credentials "+
				"can write to or delete from s3://%s (%s). Use read-only "+
				"credentials (see deploy/iam/gateway-read-only-policy.json "+
				"and run modelgate doctor), or pass "+
				"--allow-write-credentials to start anyway",
				g.o.bucket, res)
		}
		g.log.Warn("the credentials can write to or delete from the "+
			"bucket; starting because --allow-write-credentials is set",
			"bucket", g.o.bucket, "result", res.String())
		g.allowed.Set(1)
		g.setPending(nil)
		return true, nil
	}

	level := slog.LevelWarn
	if g.warned {
		level = slog.LevelDebug
	}
	g.warned = true
	g.log.Log(ctx, level, "write check could not run; starting anyway, "+
		"not ready until the check completes", "result", res.String())

	// The result names the bucket and S3 URLs, so it goes to the log
	// only, and /readyz gets a fixed phrase.
	g.setPending(errors.New("credentials: write check not done: S3 " +
		"unreachable or the answer inconclusive; retrying (see the log)"))
	return false, nil
}

// recheck repeats the check with backoff until it completes. When it
// finds writable credentials without the override, it stops the
// gateway.
func (g *writeGuard) recheck(ctx context.Context) {
	wait := writeRecheckMin
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		done, err := g.checkOnce(ctx)
		if err != nil {
			g.log.Error("stopping", "err", err)
			g.stop(err)
			return
		}
		if done {
			return
		}
		wait = min(2*wait, writeRecheckMax)
	}
}
