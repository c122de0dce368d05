package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/server"
)

// maxPageSize is the largest --page-size.
const maxPageSize = 10000

// serveOptions holds every setting of "modelgate serve".
type serveOptions struct {
	listen        string
	metricsListen string
	publicURL     string
	pageSize      int
	corsList      string
	corsOrigins   []string

	bucket  string
	root    string
	aws     presign.AWSConfig
	signer  presign.Config
	refresh time.Duration
	listTO  time.Duration

	logFormat        string
	logLevel         string
	logFlushInterval time.Duration
	// accessLog, when set, receives the access log as JSON lines in
	// place of the logger. openLog sets it for --log-format json.
	accessLog io.Writer

	// floor is the --url-floor flag, to tell whether it was set.
	floor *durationFlag
	// allowWrite starts the gateway even when its credentials can write.
	allowWrite bool
	// skipWriteCheck skips the start-up write check. Only the demo sets
	// it: its in-memory S3 server authorises every request.
	skipWriteCheck    bool
	writeCheckTimeout time.Duration

	drainTimeout      time.Duration
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int
	maxInFlight       int

	limits limitOptions

	// onListen, when set, is called with the main listener's address
	// once it accepts connections. The demo prints its help there.
	onListen func(addr string)
}

// register defines the serve flags on fs.
func (o *serveOptions) register(fs *flag.FlagSet) {
	o.registerGateway(fs, true)
	registerBucketFlags(fs, &o.bucket, &o.root, &o.aws)
	fs.StringVar(&o.signer.PublicEndpoint, "s3-public-endpoint", "",
		"S3 endpoint put in the URLs handed to clients; empty means "+
			"--s3-endpoint, or AWS")
	o.registerCredentials(fs)
}

// registerGateway defines the flags that serve and demo share: the
// listeners, the API and pages, logging, rate limits, the URL expiry,
// the catalog refreshes and the HTTP timeouts. withRole mentions the
// role session's bound on the URL expiry in its help.
func (o *serveOptions) registerGateway(fs *flag.FlagSet, withRole bool) {
	o.limits.register(fs)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080",
		"address to serve on, host:port")
	fs.StringVar(&o.metricsListen, "metrics-listen", "",
		"separate address for /metrics; empty serves it on --listen")
	fs.StringVar(&o.publicURL, "public-url", "",
		"base URL clients use to reach the gateway, such as "+
			"https://models.example.com, or https://example.com/models "+
			"behind a proxy that strips the path prefix; absolute "+
			"pagination links use it and the pages' links keep its path. "+
			"Empty uses each request's Host")
	fs.IntVar(&o.pageSize, "page-size", 1000,
		"entries per page of /api/models and tree listings, 1 to 10000")
	fs.StringVar(&o.corsList, "cors-origins", "*",
		"origins whose browser scripts may read the API and download "+
			"responses: * for any, or a comma-separated list such as "+
			"https://app.example.com,http://localhost:3000")

	o.registerExpiry(fs, withRole)
	durationVar(fs, &o.refresh, "refresh-interval", 5*time.Minute,
		time.Second, math.MaxInt64, "1s or longer",
		"time between catalog listings of the bucket; each listing "+
			"costs one LIST request per 1000 objects")
	durationVar(fs, &o.listTO, "list-timeout", 2*time.Minute,
		time.Second, math.MaxInt64, "1s or longer",
		"deadline for one complete listing of the bucket")

	fs.StringVar(&o.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&o.logLevel, "log-level", "info",
		"log level: debug, info, warn or error")
	durationVar(fs, &o.logFlushInterval, "log-flush-interval",
		100*time.Millisecond, 0, time.Minute, "0 to 1m",
		"longest time a log line waits in memory before it is written; "+
			"0 writes each line at once. A process killed with SIGKILL "+
			"loses up to this much of its log")

	fs.DurationVar(&o.drainTimeout, "drain-timeout", 20*time.Second,
		"time in-flight requests get to finish after SIGTERM or SIGINT; "+
			"connections still open then are closed")
	fs.DurationVar(&o.readHeaderTimeout, "read-header-timeout",
		10*time.Second, "time a client gets to send its request headers")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 120*time.Second,
		"time an idle keep-alive connection is kept open")
	fs.IntVar(&o.maxHeaderBytes, "max-header-bytes", 64<<10,
		"largest request header block accepted, in bytes")
	// The gateway caps requests in flight rather than connections. A
	// connection cap (netutil.LimitListener) would let clients that
	// open connections and never finish their headers hold every slot
	// until ReadHeaderTimeout, locking out real clients. Such clients
	// cost a goroutine and a few KiB each and are closed by
	// ReadHeaderTimeout, while the in-flight cap bounds the work of
	// requests that did arrive.
	fs.IntVar(&o.maxInFlight, "max-in-flight", 1024,
		"requests handled at once; more get 503 with Retry-After, "+
			"except /healthz, /readyz and /metrics; 0 means no cap")
}

// validate checks the settings that no package validates, and the
// bucket, region and endpoints before any AWS configuration is loaded.
// Each error names its flag and the allowed values.
func (o *serveOptions) validate() error {
	if o.bucket == "" {
		return errors.New("--bucket is required: the S3 bucket that " +
			"holds the models")
	}
	if err := o.validateHTTP(); err != nil {
		return err
	}
	origins, err := server.ParseOrigins(o.corsList)
	if err != nil {
		return fmt.Errorf("--cors-origins: %w", err)
	}
	o.corsOrigins = origins
	if err := o.validateExpiry(); err != nil {
		return err
	}
	if err := o.limits.validate(); err != nil {
		return err
	}
	return o.validateS3()
}

// validateHTTP checks the listeners, the HTTP server's limits and the
// settings of the API and pages.
func (o *serveOptions) validateHTTP() error {
	if err := checkListen("--listen", o.listen); err != nil {
		return err
	}
	if o.metricsListen != "" {
		if err := checkListen("--metrics-listen", o.metricsListen); err != nil {
			return err
		}
		if o.metricsListen == o.listen {
			return fmt.Errorf("--metrics-listen %q is the same address as "+
				"--listen; leave it empty to serve /metrics on --listen",
				o.metricsListen)
		}
	}
	if err := checkRoot(o.root); err != nil {
		return err
	}
	if o.drainTimeout <= 0 {
		return fmt.Errorf("--drain-timeout %v must be positive", o.drainTimeout)
	}
	if o.readHeaderTimeout <= 0 {
		return fmt.Errorf("--read-header-timeout %v must be positive, "+
			"such as 10s", o.readHeaderTimeout)
	}
	if o.idleTimeout <= 0 {
		return fmt.Errorf("--idle-timeout %v must be positive, such as 2m",
			o.idleTimeout)
	}
	if o.maxInFlight < 0 {
		return fmt.Errorf("--max-in-flight %d is negative; use 0 for "+
			"no cap", o.maxInFlight)
	}
	if o.maxHeaderBytes < 4096 {
		return fmt.Errorf("--max-header-bytes %d is below 4096",
			o.maxHeaderBytes)
	}
	if o.pageSize < 1 || o.pageSize > maxPageSize {
		return fmt.Errorf("--page-size %d is outside the allowed range: "+
			"1 to %d", o.pageSize, maxPageSize)
	}
	if err := (server.Config{PublicURL: o.publicURL}).Validate(); err != nil {
		return fmt.Errorf("--public-url %q is not an absolute http or "+
			"https URL without query or fragment, such as "+
			"https://models.example.com or https://example.com/models",
			o.publicURL)
	}
	return nil
}

// reachableAddr turns a bound address into one a local client can
// reach: an unspecified host (":8080", "0.0.0.0", "::") becomes
// 127.0.0.1.
func reachableAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// checkListen checks that addr is host:port with a port from 0 to
// 65535, where 0 picks a free port.
func checkListen(flagName, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q is not host:port, such as 127.0.0.1:8080 "+
			"or :8080", flagName, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s %q has an invalid port; use a number from "+
			"0 to 65535", flagName, addr)
	}
	return nil
}

// checkRoot checks a --root key prefix: empty, or segments that a model
// key can have, with an optional trailing slash.
func checkRoot(root string) error {
	trimmed := strings.TrimSuffix(root, "/")
	if root == "" || catalog.ValidPath(trimmed) {
		return nil
	}
	return fmt.Errorf("--root %q is not a valid key prefix: use "+
		"segments separated by single slashes, with no leading slash, "+
		"\".\" or \"..\", backslash or control character, such as "+
		"models/", root)
}

// validateS3 completes the signer's settings from the bucket flags and
// checks them: region, bucket name, endpoints and role session.
func (o *serveOptions) validateS3() error {
	o.signer.Bucket = o.bucket
	o.signer.Region = o.aws.Region
	o.signer.PathStyle = o.aws.PathStyle
	inherited := o.signer.PublicEndpoint == "" && o.aws.Endpoint != ""
	if inherited {
		o.signer.PublicEndpoint = o.aws.Endpoint
	}
	if err := o.aws.Validate(); err != nil {
		return err
	}
	err := o.signer.Validate()
	if err != nil && inherited &&
		strings.HasPrefix(err.Error(), "--s3-public-endpoint") {
		return fmt.Errorf("%w (--s3-public-endpoint is empty, so "+
			"--s3-endpoint is used in its place)", err)
	}
	return err
}

// newLogger returns the process logger for the chosen format and level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q is not debug, info, "+
			"warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q is not json or text", format)
}

// runServe implements "modelgate serve". environ lists the process
// environment, as os.Environ returns it, for the warning about unknown
// MODELGATE_ variables.
func runServe(args []string, stdout, stderr io.Writer,
	getenv func(string) string, environ []string,
) int {
	var o serveOptions
	fs := newFlagSet("serve", "Serve model downloads from an S3 bucket "+
		"through pre-signed redirects.", stderr)
	o.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return exitCodeFor(stderr, "serve", err)
	}
	if err := o.validate(); err != nil {
		return exitCodeFor(stderr, "serve", err)
	}
	ignoreBrokenPipe()
	log, logOut, err := o.openLog(stderr)
	if err != nil {
		return exitCodeFor(stderr, "serve", err)
	}
	defer closeLog(logOut, stderr, "serve")
	warnUnknownEnv(log, fs, environ)

	ctx := signalContext()
	awsCfg, provider, err := presign.LoadAWS(ctx, o.aws)
	if err != nil {
		log.Error("cannot load AWS configuration", "err", err)
		return 1
	}
	if err := serve(ctx, &o, log, awsCfg, provider); err != nil {
		log.Error("modelgate stopped with an error", "err", err)
		return 1
	}
	return 0
}

// warnUnknownEnv logs one warning that lists the MODELGATE_ variables of
// environ that set no flag of fs, without their values, which may be
// secret.
func warnUnknownEnv(log *slog.Logger, fs *flag.FlagSet, environ []string) {
	if names := unknownEnv(fs, environ); len(names) > 0 {
		log.Warn("ignoring environment variables that match no flag of "+
			"modelgate "+fs.Name()+"; check their spelling",
			"names", names)
	}
}

// ignoreBrokenPipe makes a write to a closed pipe fail with EPIPE
// instead of ending the process. By default Go ends a process that
// writes to a broken pipe on stdout or stderr, and the log goes to
// stderr, so a log reader that went away would take the gateway down.
// The log writer then counts the failed writes and serving goes on.
func ignoreBrokenPipe() { signal.Ignore(syscall.SIGPIPE) }

// signalContext returns a context that is cancelled by the first SIGTERM
// or SIGINT. A second signal gets the default action, so an operator can
// cut a slow drain short.
func signalContext() context.Context {
	ctx, stop := signal.NotifyContext(context.Background(),
		syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx
}

// serve wires the gateway together and runs it until ctx is done.
func serve(ctx context.Context, o *serveOptions, log *slog.Logger,
	awsCfg aws.Config, provider aws.CredentialsProvider,
) error {
	reg := prometheus.NewRegistry()
	metrics, err := newMetricsIn(o, log, reg)
	if err != nil {
		return err
	}

	o.signer.Logger = log
	o.signer.OnRefresh = func(c aws.Credentials, err error) {
		if o.aws.RoleARN != "" {
			metrics.S3Request("AssumeRole", err)
		}
		if err == nil {
			exp := time.Time{}
			if c.CanExpire {
				exp = c.Expires
			}
			metrics.CredentialsExpire(exp)
		}
	}
	signer, err := presign.NewSigner(o.signer, provider)
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go signer.Run(ctx)
	s3c := presign.NewS3Client(awsCfg, o.aws, signer)
	guard := newWriteGuard(o, log, s3c, reg, stop)
	if err := guard.Start(ctx); err != nil {
		return err
	}
	cat, err := catalog.New(s3c, catalog.Config{
		Bucket: o.bucket, Root: o.root, Interval: o.refresh,
		ListTimeout: o.listTO, Logger: log,
		OnList: func(err error) {
			metrics.S3Request("ListObjectsV2", err)
		},
		OnGet: func(err error) {
			metrics.S3Request("GetObject", err)
		},
		OnRefresh: metrics.CatalogRefreshed,
	})
	if err != nil {
		return err
	}
	lim, err := o.limits.newLimiter()
	if err != nil {
		return err
	}
	var limiter server.Limiter
	if lim != nil {
		limiter = server.NewRateLimiter(lim)
		metrics.TrackClients(lim.Tracked)
		go sweepClients(ctx, lim)
	}
	srv, err := server.New(server.Config{
		Limiter:   limiter,
		PublicURL: o.publicURL, PageSize: o.pageSize, Logger: log,
		JSONAccessLog: o.accessLog, Metrics: metrics, Ready: func() error {
			// /readyz is public, so it gets a fixed phrase; the signer
			// logs the cause, which may name endpoints, when it changes.
			if signer.Status() != nil {
				return errors.New("credentials: cannot sign download " +
					"URLs now (see the log)")
			}
			return guard.Status()
		},
		CORSOrigins: o.corsOrigins,
		MaxInFlight: o.maxInFlight,
	}, cat, signer)
	if err != nil {
		return err
	}

	log.Info("modelgate starting", "version", version, "listen", o.listen,
		"bucket", o.bucket, "root", o.root, "region", o.aws.Region,
		"s3_endpoint", o.aws.Endpoint,
		"s3_public_endpoint", o.signer.PublicEndpoint,
		"role_arn", o.aws.RoleARN,
		"url_expiry", o.signer.Expiry.String(),
		"url_floor", o.signer.Floor.String(),
		"credentials_margin", o.signer.Margin.String(),
		"refresh_interval", o.refresh.String(),
		"log_flush_interval", o.logFlushInterval.String(),
		"metrics_listen", o.metricsListen,
		"public_url", o.publicURL, "cors_origins", o.corsOrigins)

	go cat.Run(ctx)
	if err := listenAndServe(ctx, o, log, srv, metrics); err != nil {
		return err
	}
	// A background check that stopped the gateway gives the cause.
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// newMetrics returns the gateway's metrics in a new registry, served on
// the main listener unless --metrics-listen is set.
func newMetrics(o *serveOptions, log *slog.Logger) (*server.Metrics, error) {
	return newMetricsIn(o, log, prometheus.NewRegistry())
}

// newMetricsIn is newMetrics with the registry given, so that the caller
// can register more collectors in it.
func newMetricsIn(o *serveOptions, log *slog.Logger,
	reg *prometheus.Registry,
) (*server.Metrics, error) {
	return server.NewMetrics(server.MetricsConfig{
		Registry:       reg,
		Version:        version,
		OnMainListener: o.metricsListen == "",
		Logger:         log,
	})
}

// listenAndServe serves srv on o.listen, and the metrics on their own
// listener when set, until ctx is done. Then it stops accepting
// connections, waits up to the drain timeout for requests in flight, and
// closes the connections still open after that.
func listenAndServe(ctx context.Context, o *serveOptions, log *slog.Logger,
	srv http.Handler, metrics *server.Metrics,
) error {
	servers := []*trackedServer{o.httpServer(o.listen, srv, log)}
	if o.metricsListen != "" {
		servers = append(servers,
			o.httpServer(o.metricsListen, metricsMux(metrics), log))
	}

	errc := make(chan error, len(servers))
	var mainAddr string
	for _, ts := range servers {
		ln, err := net.Listen("tcp", ts.Addr)
		if err != nil {
			return fmt.Errorf("cannot listen on %s: %w; stop the process "+
				"that holds the address or choose another one", ts.Addr,
				err)
		}
		log.Info("listening", "addr", ln.Addr().String())
		if mainAddr == "" {
			mainAddr = ln.Addr().String()
		}
		go func() { errc <- ts.Serve(ln) }()
	}
	if o.onListen != nil {
		o.onListen(reachableAddr(mainAddr))
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}

	log.Info("shutting down; draining requests in flight",
		"timeout", o.drainTimeout.String())
	drain, cancel := context.WithTimeout(context.Background(),
		o.drainTimeout)
	defer cancel()
	var firstErr error
	for _, ts := range servers {
		if err := ts.drain(drain, log); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("drain %s: %w", ts.Addr, err)
		}
	}
	if firstErr == nil {
		log.Info("modelgate stopped")
	}
	return firstErr
}

// metricsMux serves GET /metrics alone, for the --metrics-listen
// listener.
func metricsMux(metrics *server.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	return mux
}

// httpServer returns an http.Server with the configured timeouts, which
// counts its open connections.
func (o *serveOptions) httpServer(addr string, h http.Handler,
	log *slog.Logger,
) *trackedServer {
	ts := &trackedServer{Server: &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: o.readHeaderTimeout,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       o.idleTimeout,
		MaxHeaderBytes:    o.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}}
	ts.ConnState = ts.trackConn
	return ts
}
