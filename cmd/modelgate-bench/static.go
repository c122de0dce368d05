package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// staticOptions holds the settings of "modelgate-bench static".
type staticOptions struct {
	listen   string
	location string
	headers  headerList
}

// headerList is a repeatable flag of "Name: value" header fields.
type headerList []string

func (l *headerList) String() string { return strings.Join(*l, "; ") }

func (l *headerList) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("header %q is not in the form \"Name: value\"", v)
	}
	*l = append(*l, strings.TrimSpace(name)+": "+strings.TrimSpace(value))
	return nil
}

// apply sets the fields of l on h.
func (l headerList) apply(h http.Header) {
	for _, field := range l {
		name, value, _ := strings.Cut(field, ": ")
		h.Add(name, value)
	}
}

func (o *staticOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0",
		"address to serve on, host:port; port 0 picks a free one")
	fs.StringVar(&o.location, "location",
		"http://127.0.0.1:9000/models/file.safetensors",
		"Location of every redirect")
	fs.Var(&o.headers, "header",
		"extra header field of every redirect, as \"Name: value\"; "+
			"repeat the flag for more fields")
}

func (o *staticOptions) validate() error {
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return fmt.Errorf("--listen %q is not host:port: %w", o.listen, err)
	}
	return nil
}

// runStatic implements "modelgate-bench static": the baseline server.
// It responds to every request with the same 302, except GET /metrics,
// which reports the runtime metrics that the gateway's /metrics also
// has. It prints "listening on ADDR" on stdout once it accepts
// connections, and stops on SIGTERM or SIGINT.
func runStatic(args []string, stdout, stderr io.Writer) int {
	var o staticOptions
	fs := newFlagSet("static", "Serve a fixed 302 redirect for every "+
		"request: the baseline for the gateway.", stderr)
	o.register(fs)
	if code, ok := parseCommand(fs, args, o.validate, stderr); !ok {
		return code
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		fmt.Fprintf(stderr, "modelgate-bench static: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	// The timeouts are those of modelgate serve by default, because
	// each one costs a deadline update per request.
	srv := &http.Server{
		Handler:           staticRouter(o.location, o.headers),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, stop := signalContext()
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(),
			5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil &&
		!errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "modelgate-bench static: %v\n", err)
		return 1
	}
	return 0
}

// staticRouter returns the baseline's chi router. A download path goes
// through the same route pattern as on the gateway, so both pay for
// chi's routing. Each redirect carries location and the extra fields.
func staticRouter(location string, extra headerList) http.Handler {
	redirect := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		extra.apply(h)
		h.Set("Location", location)
		w.WriteHeader(http.StatusFound)
	}
	r := chi.NewRouter()
	r.Get("/metrics", serveRuntimeStats)
	r.Get("/{org}/{name}/resolve/{rev}/*", redirect)
	r.NotFound(redirect)
	r.MethodNotAllowed(redirect)
	return r
}

// serveRuntimeStats writes the runtime metrics in the Prometheus text
// format, under the names of the Prometheus Go collector.
func serveRuntimeStats(w http.ResponseWriter, r *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# TYPE %s counter\n%[1]s %d\n", metricMallocs,
		ms.Mallocs)
	fmt.Fprintf(w, "# TYPE %s gauge\n%[1]s %d\n", metricHeapInuse,
		ms.HeapInuse)
	fmt.Fprintf(w, "# TYPE %s gauge\n%[1]s %d\n", metricGoroutines,
		runtime.NumGoroutine())
}
