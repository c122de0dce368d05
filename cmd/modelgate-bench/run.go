package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// compareOptions holds the settings of "modelgate-bench run".
type compareOptions struct {
	gatewayOptions
	rounds int
	json   bool

	// staticFields names the header fields of a gateway redirect that
	// the static server sends too.
	staticFields fieldSet
}

// runCompare implements "modelgate-bench run": it measures the static
// baseline and the gateway in turn under the same load, and reports
// both with their ratios.
func runCompare(args []string, stdout, stderr io.Writer) int {
	var o compareOptions
	fs := newFlagSet("run", "Measure modelgate's download redirects "+
		"against a server that responds to every request with a fixed "+
		"redirect, under the same load.", stderr)
	o.register(fs, commandDefaults{warmup: 3 * time.Second,
		duration: 10 * time.Second, refresh: 24 * time.Hour})
	fs.IntVar(&o.rounds, "rounds", 1,
		"measurements of each server, taken in turn; the report uses "+
			"the median round by requests per second")
	fs.Var(&o.staticFields, "static-fields",
		"header fields of a gateway redirect that the static server "+
			"sends too, with fixed values: comma-separated names, or "+
			"\"all\" for every field, so that both responses have the "+
			"same fields and size")
	fs.BoolVar(&o.json, "json", false,
		"write the report as JSON to stdout, and the table to stderr")
	if code, ok := parseCommand(fs, args, o.validate, stderr); !ok {
		return code
	}

	ctx, stop := signalContext()
	defer stop()
	rep, err := compare(ctx, &o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "modelgate-bench run: %v\n", err)
		return 1
	}
	table := stdout
	if o.json {
		table = stderr
		if err := writeJSON(stdout, rep); err != nil {
			fmt.Fprintf(stderr, "modelgate-bench run: %v\n", err)
			return 1
		}
	}
	writeTable(table, rep)
	if !rep.AllRedirects {
		fmt.Fprintln(stderr, "modelgate-bench run: some requests failed "+
			"or got a status other than 302; see the statuses")
		return 1
	}
	return 0
}

func (o *compareOptions) validate() error {
	if o.rounds < 1 {
		return fmt.Errorf("--rounds %d must be at least 1", o.rounds)
	}
	run := time.Duration(2*o.rounds) * (o.load.warmup + o.load.duration)
	if o.refresh <= run {
		return fmt.Errorf("--refresh-interval %v is not longer than the "+
			"run; a catalog refresh would make S3 requests during the "+
			"load", o.refresh)
	}
	return o.gatewayOptions.validate()
}

// compare starts both servers and measures them in turn.
func compare(ctx context.Context, o *compareOptions, stderr io.Writer) (
	*report, error,
) {
	client := &http.Client{Timeout: 10 * time.Second}
	rep := newReport(o)

	gw, err := startGateway(ctx, &o.gatewayOptions, client, stderr)
	if err != nil {
		return nil, err
	}
	defer gw.Close()
	rep.Gateway.ColdStart = gw.ColdStart.Seconds()
	rep.Gateway.StartupS3Requests = gw.StartupS3Requests
	gwTarget := gw.target(o.layout())

	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sample, err := sampleRedirect(ctx, client, gwTarget)
	if err != nil {
		return nil, err
	}
	var extra headerList
	if !o.staticFields.empty() {
		extra, err = copiedFields(sample, o.staticFields)
		if err != nil {
			return nil, err
		}
		rep.StaticHeaderFields = len(extra)
		for _, field := range extra {
			name, _, _ := strings.Cut(field, ":")
			rep.StaticFieldNames = append(rep.StaticFieldNames, name)
		}
	}
	static, err := startStatic(exe, sample.Get("Location"), extra, stderr)
	if err != nil {
		return nil, err
	}
	defer static.Stop(10 * time.Second)
	staticTarget := target{name: "static", proc: static,
		metricsURL: "http://" + static.Addr + "/metrics",
		paths:      gwTarget.paths}

	if heap, err := scrapeRuntimeStats(ctx, client, gwTarget.metricsURL); err == nil {
		rep.Gateway.HeapInuseIdle = int64(heap.HeapInuse)
	}
	s3Before := gw.s3.Requests()
	for round := 1; round <= o.rounds; round++ {
		for _, t := range []target{staticTarget, gwTarget} {
			fmt.Fprintf(stderr, "round %d/%d: %s: %v warm-up, %v measured\n",
				round, o.rounds, t.name, o.load.warmup, o.load.duration)
			m, err := measureLoad(ctx, client, t, o.load)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
			rep.add(m)
		}
	}
	rep.Gateway.LoadS3Requests = gw.s3.Requests() - s3Before
	rep.finish()

	if err := gw.proc.Stop(30 * time.Second); err != nil {
		return nil, err
	}
	rep.Gateway.AccessLogRecords, rep.Gateway.AccessLogBytes, err =
		countAccessLog(gw.log.Name())
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// sampleRedirect requests one redirect from the gateway and returns its
// header, so that the baseline sends a URL of the same length.
func sampleRedirect(ctx context.Context, client *http.Client,
	t target,
) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://"+t.proc.Addr+t.paths[0], nil)
	if err != nil {
		return nil, err
	}
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || loc == "" {
		return nil, fmt.Errorf("GET %s: status %s, want 302 with a "+
			"Location", t.paths[0], resp.Status)
	}
	return resp.Header, nil
}

// fieldSet is the value of --static-fields: header field names in
// canonical form, or all of them.
type fieldSet struct {
	all   bool
	names []string
}

func (f *fieldSet) String() string {
	if f.all {
		return "all"
	}
	return strings.Join(f.names, ",")
}

func (f *fieldSet) Set(v string) error {
	*f = fieldSet{}
	if strings.EqualFold(strings.TrimSpace(v), "all") {
		f.all = true
		return nil
	}
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !validFieldName(name) {
			return fmt.Errorf("invalid header field name %q; use "+
				"names such as X-Repo-Commit,Etag, or \"all\"", name)
		}
		name = http.CanonicalHeaderKey(name)
		if ownField(name) {
			return fmt.Errorf("the static server always sends %s; name "+
				"other fields of a gateway redirect", name)
		}
		f.names = append(f.names, name)
	}
	if len(f.names) == 0 {
		return fmt.Errorf("missing header field names in %q; use "+
			"names such as X-Repo-Commit,Etag, or \"all\"", v)
	}
	return nil
}

func (f *fieldSet) empty() bool { return !f.all && len(f.names) == 0 }

// validFieldName reports whether name is an HTTP token.
func validFieldName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			'0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return name != ""
}

// ownField reports whether the static server always sends the field
// with canonical name name, whatever --static-fields lists.
func ownField(name string) bool {
	switch name {
	case "Location", "Date", "Content-Length":
		return true
	}
	return false
}

// copiedFields returns the fields of a gateway redirect that set names,
// for the static server, sorted. It never copies the fields that the
// static server sends itself (Location, Date, Content-Length), and
// returns an error when the redirect lacks a field that set names.
func copiedFields(h http.Header, set fieldSet) (headerList, error) {
	var l headerList
	var have []string
	for name, values := range h {
		if ownField(name) {
			continue
		}
		have = append(have, name)
		if !set.all && !slices.Contains(set.names, name) {
			continue
		}
		for _, v := range values {
			l = append(l, name+": "+v)
		}
	}
	for _, name := range set.names {
		if len(h.Values(name)) == 0 {
			slices.Sort(have)
			return nil, fmt.Errorf("--static-fields: the gateway's "+
				"redirect has no %s field; it has %s", name,
				strings.Join(have, ", "))
		}
	}
	slices.Sort(l)
	return l, nil
}

// medianRound returns the measurement with the median requests per
// second.
func medianRound(ms []measurement) measurement {
	sorted := slices.Clone(ms)
	slices.SortFunc(sorted, func(a, b measurement) int {
		switch {
		case a.RequestsPerSecond < b.RequestsPerSecond:
			return -1
		case a.RequestsPerSecond > b.RequestsPerSecond:
			return 1
		}
		return 0
	})
	return sorted[(len(sorted)-1)/2]
}
