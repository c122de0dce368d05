package server

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/modelgate/modelgate/catalog"
)

// MetricsConfig sets up [Metrics].
type MetricsConfig struct {
	// Registry receives every collector. It is required.
	Registry *prometheus.Registry

	// Version is reported by modelgate_build_info.
	Version string

	// OnMainListener serves /metrics on the gateway's own router. When
	// false, the caller serves Handler on a separate listener.
	OnMainListener bool
}

// Metrics holds the gateway's Prometheus collectors. Label values come
// only from bounded sets: route patterns, methods, status codes and the
// models in the catalog. A nil *Metrics records nothing. It is safe for
// concurrent use.
type Metrics struct {
	reg    *prometheus.Registry
	onMain bool

	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	inflight  prometheus.Gauge
	downloads *prometheus.CounterVec
	presign   prometheus.Histogram
	s3        *prometheus.CounterVec
	limits    *prometheus.CounterVec

	catalogModels   prometheus.Gauge
	catalogFiles    prometheus.Gauge
	catalogLoaded   prometheus.Gauge
	catalogFailures prometheus.Counter
	unverified      prometheus.Gauge
	credsExpiry     prometheus.Gauge

	mu     sync.Mutex
	models map[string]bool // models with a downloads series
}

// NewMetrics registers the gateway's collectors, the Go runtime and
// process collectors, and modelgate_build_info in cfg.Registry.
func NewMetrics(cfg MetricsConfig) *Metrics {
	m := &Metrics{reg: cfg.Registry, onMain: cfg.OnMainListener,
		models: make(map[string]bool)}

	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelgate_http_requests_total",
		Help: "HTTP requests by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "modelgate_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"route", "method"})
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "modelgate_http_requests_in_flight",
		Help: "HTTP requests being answered.",
	})
	m.downloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelgate_downloads_total",
		Help: "Whole-file downloads handed to S3, by model. Counts GET " +
			"redirects with no Range or a Range from byte 0, except the " +
			"bytes=0-0 probe; HEAD, continuations and errors do not count.",
	}, []string{"model"})
	m.presign = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "modelgate_presign_duration_seconds",
		Help:    "Time to pre-sign one download URL.",
		Buckets: []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 1e-3, .01, .1, 1},
	})
	m.s3 = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelgate_s3_requests_total",
		Help: "Requests the gateway made to S3 and STS, by operation " +
			"and result (ok or error).",
	}, []string{"operation", "result"})
	m.limits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "modelgate_ratelimit_decisions_total",
		Help: "Rate-limit decisions by budget (download or api) and " +
			"outcome (allowed or limited).",
	}, []string{"budget", "outcome"})
	m.catalogModels = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "modelgate_catalog_models",
		Help: "Models in the last good catalog.",
	})
	m.catalogFiles = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "modelgate_catalog_files",
		Help: "Files in the last good catalog.",
	})
	m.catalogLoaded = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "modelgate_catalog_last_success_timestamp_seconds",
		Help: "Unix time of the last successful catalog refresh.",
	})
	m.catalogFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "modelgate_catalog_refresh_failures_total",
		Help: "Catalog refreshes that failed and kept the last good " +
			"catalog.",
	})
	m.unverified = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "modelgate_catalog_unverified_files",
		Help: "Files of models with a manifest that the manifest does " +
			"not vouch for; they are served without SHA-256.",
	})
	m.credsExpiry = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "modelgate_credentials_expiry_timestamp_seconds",
		Help: "Unix time at which the signing credentials expire; 0 " +
			"when they do not expire.",
	})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "modelgate_build_info",
		Help: "Always 1; the labels give the gateway's version and the " +
			"Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": cfg.Version,
			"goversion": runtime.Version()},
	})
	build.Set(1)

	cfg.Registry.MustRegister(m.requests, m.duration, m.inflight,
		m.downloads, m.presign, m.s3, m.limits, m.catalogModels,
		m.catalogFiles, m.catalogLoaded, m.catalogFailures,
		m.unverified, m.credsExpiry, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, b := range []string{"api", "download"} {
		for _, o := range []string{"allowed", "limited"} {
			m.limits.WithLabelValues(b, o)
		}
	}
	return m
}

// Handler returns the /metrics handler for the registry.
func (m *Metrics) Handler() http.Handler { return m.handler() }

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry: m.reg,
	})
}

func (m *Metrics) inFlight(delta float64) {
	if m != nil {
		m.inflight.Add(delta)
	}
}

func (m *Metrics) request(route, method string, code int,
	d time.Duration,
) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// download counts a whole download of a model that is in the catalog.
func (m *Metrics) download(model string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	known := m.models[model]
	m.mu.Unlock()
	if known {
		m.downloads.WithLabelValues(model).Inc()
	}
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
	name, outcome := "api", "allowed"
	if b == budgetDownload {
		name = "download"
	}
	if !allowed {
		outcome = "limited"
	}
	m.limits.WithLabelValues(name, outcome).Inc()
}

// S3Request counts one request to S3 or STS.
func (m *Metrics) S3Request(operation string, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.s3.WithLabelValues(operation, result).Inc()
}

// CredentialsExpire records when the signing credentials expire. The
// zero time means they do not.
func (m *Metrics) CredentialsExpire(t time.Time) {
	if m == nil {
		return
	}
	if t.IsZero() {
		m.credsExpiry.Set(0)
		return
	}
	m.credsExpiry.Set(float64(t.UnixMilli()) / 1000)
}

// CatalogRefreshed records the outcome of a catalog refresh. It creates a
// downloads series at zero for every model in s, so that increase() sees
// a model's first download, and deletes the series of models that left
// the bucket.
func (m *Metrics) CatalogRefreshed(s *catalog.Snapshot, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.catalogFailures.Inc()
		return
	}
	m.catalogModels.Set(float64(len(s.Models())))
	m.catalogFiles.Set(float64(s.Objects))
	m.unverified.Set(float64(s.Unverified))
	m.catalogLoaded.Set(float64(s.Loaded.UnixMilli()) / 1000)

	m.mu.Lock()
	defer m.mu.Unlock()
	present := make(map[string]bool, len(s.Models()))
	for _, model := range s.Models() {
		present[model.ID] = true
		if !m.models[model.ID] {
			m.downloads.WithLabelValues(model.ID)
		}
	}
	for id := range m.models {
		if !present[id] {
			m.downloads.DeleteLabelValues(id)
		}
	}
	m.models = present
}
