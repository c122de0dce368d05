package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// gatewayOptions are the settings shared by run and soak: the bucket,
// the gateway and the load.
type gatewayOptions struct {
	modelgate     string
	models        int
	filesPerModel int
	refresh       time.Duration
	accessLog     string
	modelgateArgs string
	readyTimeout  time.Duration
	load          loadOptions
}

// commandDefaults are the defaults that differ between run and soak.
type commandDefaults struct {
	warmup    time.Duration
	duration  time.Duration
	refresh   time.Duration
	accessLog string
}

// register defines the shared flags on fs.
func (o *gatewayOptions) register(fs *flag.FlagSet, d commandDefaults) {
	fs.StringVar(&o.modelgate, "modelgate", "",
		"modelgate executable to measure; empty builds "+
			"./cmd/modelgate with go build into a temporary directory")
	fs.IntVar(&o.models, "models", 1000, "models in the generated bucket")
	fs.IntVar(&o.filesPerModel, "files-per-model", 100,
		"files per model in the generated bucket")
	fs.DurationVar(&o.refresh, "refresh-interval", d.refresh,
		"the gateway's catalog refresh interval")
	fs.StringVar(&o.accessLog, "access-log", d.accessLog,
		"file that receives the gateway's log and access log; empty "+
			"means a file in a temporary directory, deleted at the end")
	fs.StringVar(&o.modelgateArgs, "modelgate-args", "",
		"extra flags for modelgate serve, separated by spaces; they "+
			"come last, so they override the bench's own settings, "+
			"such as --log-level=warn to turn the access log off")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 2*time.Minute,
		"time the gateway gets to load its catalog and become ready")
	fs.IntVar(&o.load.concurrency, "concurrency", 16,
		"connections, each with one request in flight at a time")
	fs.DurationVar(&o.load.warmup, "warmup", d.warmup,
		"time under load before measuring starts")
	fs.DurationVar(&o.load.duration, "duration", d.duration,
		"time under load that is measured, after the warm-up")
	fs.DurationVar(&o.load.timeout, "request-timeout", 10*time.Second,
		"time limit for one request, from writing it to reading "+
			"the whole response")
	fs.Uint64Var(&o.load.seed, "seed", 1,
		"seed of the random choice of files")
}

// validate checks the shared settings.
func (o *gatewayOptions) validate() error {
	switch {
	case o.models < 1 || o.filesPerModel < 1:
		return errors.New("--models and --files-per-model must be at " +
			"least 1")
	case o.load.concurrency < 1:
		return fmt.Errorf("--concurrency %d must be at least 1",
			o.load.concurrency)
	case o.load.warmup < 0 || o.load.duration <= 0:
		return errors.New("--warmup must not be negative and " +
			"--duration must be positive")
	case o.load.timeout <= 0 || o.readyTimeout <= 0:
		return errors.New("--request-timeout and --ready-timeout must " +
			"be positive")
	case o.refresh <= 0:
		return fmt.Errorf("--refresh-interval %v must be positive",
			o.refresh)
	}
	return nil
}

func (o *gatewayOptions) layout() bucketLayout {
	return bucketLayout{Models: o.models, FilesPerModel: o.filesPerModel}
}

// gateway is a running modelgate process in front of an in-memory S3
// server.
type gateway struct {
	s3      *fakeS3
	proc    *child
	log     *os.File
	tempDir string

	// ColdStart is the time from starting the process to the first
	// 200 from /readyz.
	ColdStart time.Duration

	// StartupS3Requests counts the S3 requests made up to readiness.
	StartupS3Requests int64
}

// startGateway fills an in-memory S3 server, builds the gateway unless
// a binary is given, starts it and waits until it is ready with the
// whole bucket in its catalog.
func startGateway(ctx context.Context, o *gatewayOptions,
	client *http.Client, stderr io.Writer,
) (_ *gateway, err error) {
	g := &gateway{}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	if g.tempDir, err = os.MkdirTemp("", "modelgate-bench-"); err != nil {
		return nil, err
	}
	binary := o.modelgate
	if binary == "" {
		fmt.Fprintln(stderr, "building modelgate")
		if binary, err = buildModelgate(ctx, g.tempDir, stderr); err != nil {
			return nil, err
		}
	}

	fmt.Fprintf(stderr, "filling the in-memory S3 server with %d objects\n",
		o.layout().Objects())
	if g.s3, err = startFakeS3(o.layout()); err != nil {
		return nil, err
	}
	logPath := o.accessLog
	if logPath == "" {
		logPath = g.tempDir + "/modelgate.log"
	}
	if g.log, err = os.Create(logPath); err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}

	g.proc, err = startModelgate(modelgateConfig{
		Binary: binary, S3URL: g.s3.URL, Refresh: o.refresh,
		ExtraArgs: strings.Fields(o.modelgateArgs), Log: g.log,
	})
	if err != nil {
		return nil, err
	}
	if err := g.waitReady(ctx, client, o); err != nil {
		return nil, err
	}
	g.StartupS3Requests = g.s3.Requests()
	return g, nil
}

// waitReady waits for /readyz and checks that the catalog holds every
// object of the bucket.
func (g *gateway) waitReady(ctx context.Context, client *http.Client,
	o *gatewayOptions,
) error {
	var body []byte
	var err error
	g.ColdStart, body, err = waitReady(ctx, g.proc, client,
		"http://"+g.proc.Addr+"/readyz", o.readyTimeout)
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, g.log.Name())
	}
	var ready struct {
		Files int `json:"files"`
	}
	if err := json.Unmarshal(body, &ready); err != nil {
		return fmt.Errorf("/readyz body %q: %w", body, err)
	}
	if ready.Files != o.layout().Objects() {
		return fmt.Errorf("gateway catalog has %d files, want %d",
			ready.Files, o.layout().Objects())
	}
	return nil
}

// target returns the gateway as a load target.
func (g *gateway) target(layout bucketLayout) target {
	return target{
		name:       "modelgate",
		proc:       g.proc,
		metricsURL: "http://" + g.proc.Addr + "/metrics",
		paths:      layout.downloadPaths(),
	}
}

// Close stops the gateway and the S3 server and removes the temporary
// directory.
func (g *gateway) Close() {
	if g.proc != nil {
		if err := g.proc.Stop(30 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if g.s3 != nil {
		g.s3.Close()
	}
	if g.log != nil {
		g.log.Close()
	}
	if g.tempDir != "" {
		os.RemoveAll(g.tempDir)
	}
}
