package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsConfig sets up [Metrics].
type MetricsConfig struct {
	// Registry receives every collector, and the /metrics handler
	// serves it. It is required, and must not already hold the
	// gateway's collectors or the Go and process collectors.
	Registry *prometheus.Registry

	// Version is the value of modelgate_build_info's version label.
	Version string

	// OnMainListener serves /metrics on the gateway's own router. When
	// false, the caller serves [Metrics.Handler] on a separate listener.
	OnMainListener bool

	// Logger receives the model ids that cannot be label values. Nil
	// discards them.
	Logger *slog.Logger
}

// Metrics holds the gateway's Prometheus collectors. Label values come
// only from bounded sets: route patterns, a fixed list of methods, the
// status codes the gateway writes, fixed budget, outcome and operation
// names, and the models of the current catalog. A nil *Metrics records
// nothing. Metrics is safe for concurrent use.
type Metrics struct {
	handler http.Handler
	onMain  bool
	log     *slog.Logger

	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	inflight  prometheus.Gauge
	downloads *prometheus.CounterVec
	presign   prometheus.Histogram
	s3        *prometheus.CounterVec
	limits    *prometheus.CounterVec
	clients   atomic.Pointer[func() int]

	// The series that requests update, looked up once: WithLabelValues
	// hashes and checks every label value on each call.
	decisions  [2][2]prometheus.Counter // by budget, then allowed
	byRequest  sync.Map                 // requestKey to prometheus.Counter
	routeTimes sync.Map                 // route to prometheus.Observer

	catalogModels   prometheus.Gauge
	catalogFiles    prometheus.Gauge
	catalogSkipped  prometheus.Gauge
	catalogLoaded   prometheus.Gauge
	catalogFailures prometheus.Counter
	unverified      prometheus.Gauge
	credsExpiry     prometheus.Gauge

	// models maps the ids of the catalog's models to their download
	// counters. trackModels replaces the map, and nothing changes a map
	// once stored. A download that holds a counter whose series a refresh
	// has just deleted increments a counter no longer exported, so the
	// series does not come back.
	models atomic.Pointer[map[string]prometheus.Counter]

	// refreshMu serializes trackModels.
	refreshMu sync.Mutex
}

// requestKey names a series of modelgate_http_requests_total.
type requestKey struct {
	route, method string
	code          int
}

// Latency buckets in seconds. The gateway serves requests from memory in
// well under a millisecond. The upper buckets catch the first catalog
// load and credential refreshes, which wait for S3 or STS.
var (
	requestBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005,
		.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	presignBuckets = []float64{2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4,
		2.5e-4, 1e-3, .01, .1, 1, 5}
)

// NewMetrics registers the gateway's collectors, the Go runtime and
// process collectors, and modelgate_build_info in cfg.Registry. It
// returns an error when the registry is missing or already holds one of
// them.
func NewMetrics(cfg MetricsConfig) (*Metrics, error) {
	if cfg.Registry == nil {
		return nil, errors.New("metrics: registry is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{onMain: cfg.OnMainListener, log: cfg.Logger}
	m.models.Store(new(map[string]prometheus.Counter))

	cs := append(m.newHTTPCollectors(), m.newBackendCollectors()...)
	cs = append(cs, newBuildInfo(cfg.Version),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(
			collectors.ProcessCollectorOpts{}))
	for _, c := range cs {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}

	m.handler = promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{
		Registry: cfg.Registry,
	})
	return m, nil
}

// newHTTPCollectors creates the request, download and rate-limit
// collectors.
func (m *Metrics) newHTTPCollectors() []prometheus.Collector {
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelgate_http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and " +
			"status code.",
	}, []string{"route", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "modelgate_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern.",
		Buckets: requestBuckets,
	}, []string{"route"})
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "modelgate_http_requests_in_flight",
		Help: "HTTP requests being answered.",
	})
	m.downloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelgate_downloads_total",
		Help: "Whole-file downloads handed out, by model: GET " +
			"answered with a redirect, or with an empty file's " +
			"content, with no Range or a single range from byte 0 " +
			"other than the bytes=0-0 probe.",
	}, []string{"model"})
	m.limits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelgate_ratelimit_decisions_total",
		Help: "Rate-limit decisions by budget (api or download) and " +
			"outcome (allowed or limited).",
	}, []string{"budget", "outcome"})
	for b, name := range []string{"api", "download"} {
		m.decisions[b][0] = m.limits.WithLabelValues(name, "limited")
		m.decisions[b][1] = m.limits.WithLabelValues(name, "allowed")
	}
	clients := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "modelgate_ratelimit_clients",
		Help: "Clients the rate limiter is tracking; 0 without a " +
			"limiter.",
	}, m.trackedClients)
	return []prometheus.Collector{m.requests, m.duration, m.inflight,
		m.downloads, m.limits, clients}
}

// newBackendCollectors creates the collectors for signing, S3, the
// catalog and the credentials.
func (m *Metrics) newBackendCollectors() []prometheus.Collector {
	m.presign = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "modelgate_presign_duration_seconds",
		Help: "Time to pre-sign one download URL, including any " +
			"credential refresh it waits for.",
		Buckets: presignBuckets,
	})
	m.s3 = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelgate_s3_requests_total",
		Help: "Requests the gateway made to S3 and STS, by operation " +
			"and result (ok or error).",
	}, []string{"operation", "result"})
	m.catalogModels = newGauge("modelgate_catalog_models",
		"Models in the last good catalog.")
	m.catalogFiles = newGauge("modelgate_catalog_files",
		"Files in the last good catalog.")
	m.catalogSkipped = newGauge("modelgate_catalog_skipped_objects",
		"Listed objects of the last good catalog that belong to no "+
			"model, such as keys outside org/name/ or directory markers.")
	m.catalogLoaded = newGauge(
		"modelgate_catalog_last_success_timestamp_seconds",
		"Unix time at which the last successful catalog listing "+
			"finished; 0 before the first.")
	m.catalogFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "modelgate_catalog_refresh_failures_total",
		Help: "Catalog listings that failed; the gateway kept serving " +
			"the last good catalog.",
	})
	m.unverified = newGauge("modelgate_catalog_unverified_files",
		"Files of models with a manifest that the manifest does not "+
			"vouch for; they are served without SHA-256.")
	m.credsExpiry = newGauge(
		"modelgate_credentials_expiry_timestamp_seconds",
		"Unix time at which the signing credentials expire; 0 when "+
			"they do not expire or are not loaded yet.")
	return []prometheus.Collector{m.presign, m.s3, m.catalogModels,
		m.catalogFiles, m.catalogSkipped, m.catalogLoaded,
		m.catalogFailures, m.unverified, m.credsExpiry}
}

func newGauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
}

// newBuildInfo returns modelgate_build_info, a constant 1 whose labels
// carry the version.
func newBuildInfo(version string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "modelgate_build_info",
		Help: "Always 1; the labels give the gateway's version and the " +
			"Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": version,
			"goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// Handler returns the handler that serves the registry in the
// Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler { return m.handler }

// TrackClients makes modelgate_ratelimit_clients report count(), which
// is called at each scrape and must be safe for concurrent use. A later
// call replaces the function.
func (m *Metrics) TrackClients(count func() int) {
	if m != nil {
		m.clients.Store(&count)
	}
}

func (m *Metrics) trackedClients() float64 {
	if f := m.clients.Load(); f != nil && *f != nil {
		return float64((*f)())
	}
	return 0
}

func (m *Metrics) inFlight(delta float64) {
	if m != nil {
		m.inflight.Add(delta)
	}
}

// request records one completed request. Its method is reduced to the
// standard methods and "other", because clients can send any token.
func (m *Metrics) request(route, method string, code int,
	d time.Duration,
) {
	if m == nil {
		return
	}
	key := requestKey{route, methodLabel(method), code}
	c, ok := m.byRequest.Load(key)
	if !ok {
		c, _ = m.byRequest.LoadOrStore(key, m.requests.WithLabelValues(
			key.route, key.method, strconv.Itoa(code)))
	}
	c.(prometheus.Counter).Inc()

	o, ok := m.routeTimes.Load(route)
	if !ok {
		o, _ = m.routeTimes.LoadOrStore(route,
			m.duration.WithLabelValues(route))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

// methodLabel returns method if it is one of the methods of RFC 9110
// or PATCH, and "other" for any other token.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost,
		http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

func (m *Metrics) presigned(d time.Duration) {
	if m != nil {
		m.presign.Observe(d.Seconds())
	}
}

func (m *Metrics) limitDecision(b budget, allowed bool) {
	if m == nil {
		return
	}
	i := 0
	if allowed {
		i = 1
	}
	m.decisions[b][i].Inc()
}

// S3Request counts one request to S3 or STS. The operation must come
// from a fixed set of names, such as "ListObjectsV2" or "AssumeRole".
// The first request of an operation creates both of its result series,
// so that an error rate reads 0 rather than nothing.
func (m *Metrics) S3Request(operation string, err error) {
	if m == nil {
		return
	}
	ok := m.s3.WithLabelValues(operation, "ok")
	failed := m.s3.WithLabelValues(operation, "error")
	if err != nil {
		failed.Inc()
		return
	}
	ok.Inc()
}

// CredentialsExpire records when the signing credentials expire. The
// zero time means that they do not.
func (m *Metrics) CredentialsExpire(t time.Time) {
	if m == nil {
		return
	}
	m.credsExpiry.Set(unixSeconds(t))
}

// unixSeconds returns t in Unix seconds with millisecond precision, or
// 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}
