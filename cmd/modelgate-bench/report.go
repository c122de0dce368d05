package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets that the report checks the results against.
const (
	minThroughputRatio = 0.85
	maxP99Ratio        = 1.5
)

// machineInfo describes where a report was measured.
type machineInfo struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model"`
	LoadBefore  string `json:"loadavg_before"`
	LoadAfter   string `json:"loadavg_after"`
	GoVersion   string `json:"go_version"`
	MeasuredUTC string `json:"measured_utc"`
}

func readMachineInfo() machineInfo {
	return machineInfo{
		CPUs:        runtime.NumCPU(),
		CPUModel:    cpuModel(),
		LoadBefore:  loadAverage(),
		GoVersion:   runtime.Version(),
		MeasuredUTC: time.Now().UTC().Format(time.RFC3339),
	}
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// gatewayFacts are the figures measured on the gateway alone.
type gatewayFacts struct {
	Objects           int     `json:"objects"`
	Models            int     `json:"models"`
	ColdStart         float64 `json:"cold_start_seconds"`
	StartupS3Requests int64   `json:"startup_s3_requests"`
	LoadS3Requests    int64   `json:"load_s3_requests"`
	HeapInuseIdle     int64   `json:"heap_inuse_idle_bytes"`
	AccessLogRecords  int64   `json:"access_log_records"`
	AccessLogBytes    int64   `json:"access_log_bytes"`
}

// report is the outcome of "modelgate-bench run".
type report struct {
	Machine     machineInfo `json:"machine"`
	LoadGen     string      `json:"load_generator"`
	Concurrency int         `json:"concurrency"`
	Warmup      float64     `json:"warmup_seconds"`
	Duration    float64     `json:"duration_seconds"`

	Rounds map[string][]measurement `json:"rounds"`
	Static measurement              `json:"static"`

	// StaticHeaderFields counts the gateway's header fields that the
	// static server sent too (run --static-fields), or is 0, and
	// StaticFieldNames names them.
	StaticHeaderFields int          `json:"static_header_fields"`
	StaticFieldNames   []string     `json:"static_field_names,omitempty"`
	Modelgate          measurement  `json:"modelgate"`
	Gateway            gatewayFacts `json:"gateway"`

	ThroughputRatio float64 `json:"throughput_ratio"`
	P99Ratio        float64 `json:"p99_ratio"`
	AllRedirects    bool    `json:"all_redirects"`
}

func newReport(o *compareOptions) *report {
	return &report{
		Machine: readMachineInfo(),
		LoadGen: "built-in Go load generator: keep-alive HTTP/1.1, one " +
			"request in flight per connection, random files, " +
			"redirects not followed",
		Concurrency: o.load.concurrency,
		Warmup:      o.load.warmup.Seconds(),
		Duration:    o.load.duration.Seconds(),
		Rounds:      make(map[string][]measurement),
		Gateway: gatewayFacts{
			Objects: o.layout().Objects(),
			Models:  o.models,
		},
	}
}

func (r *report) add(m measurement) {
	r.Rounds[m.Name] = append(r.Rounds[m.Name], m)
}

// finish picks the median rounds and computes the ratios.
func (r *report) finish() {
	r.Machine.LoadAfter = loadAverage()
	r.Static = medianRound(r.Rounds["static"])
	r.Modelgate = medianRound(r.Rounds["modelgate"])
	r.ThroughputRatio = ratio(r.Modelgate.RequestsPerSecond,
		r.Static.RequestsPerSecond)
	r.P99Ratio = ratio(r.Modelgate.P99, r.Static.P99)
	r.AllRedirects = true
	for _, ms := range r.Rounds {
		for _, m := range ms {
			if m.Errors > 0 || m.Redirects != m.Responses {
				r.AllRedirects = false
			}
		}
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func writeJSON(w io.Writer, r *report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable prints the report for people: the ratios and targets
// first, then each figure of both servers.
func writeTable(w io.Writer, r *report) {
	fmt.Fprintf(w, "machine: %d CPUs, %s, %s; load average %s before, "+
		"%s after\n", r.Machine.CPUs, r.Machine.CPUModel,
		r.Machine.GoVersion, r.Machine.LoadBefore, r.Machine.LoadAfter)
	fmt.Fprintf(w, "load: %s; %d connections, %gs warm-up, %gs "+
		"measured, %d round(s), median round shown\n\n", r.LoadGen,
		r.Concurrency, r.Warmup, r.Duration, len(r.Rounds["static"]))
	if r.StaticHeaderFields > 0 {
		fmt.Fprintf(w, "static server: Location and %d more header "+
			"fields copied from a gateway redirect: %s\n\n",
			r.StaticHeaderFields, strings.Join(r.StaticFieldNames, ", "))
	}

	fmt.Fprintf(w, "throughput ratio modelgate/static: %.3f "+
		"(target >= %.2f: %s)\n", r.ThroughputRatio, minThroughputRatio,
		verdict(r.ThroughputRatio >= minThroughputRatio))
	fmt.Fprintf(w, "p99 ratio modelgate/static:        %.3f "+
		"(target <= %.1f: %s)\n", r.P99Ratio, maxP99Ratio,
		verdict(r.P99Ratio <= maxP99Ratio))
	fmt.Fprintf(w, "S3 requests during the load:       %d "+
		"(target 0: %s)\n\n", r.Gateway.LoadS3Requests,
		verdict(r.Gateway.LoadS3Requests == 0))

	writeComparison(w, r.Static, r.Modelgate)
	writeGatewayFacts(w, r.Gateway)
	if len(r.Rounds["static"]) > 1 {
		writeRounds(w, r.Rounds)
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// writeComparison prints one row per figure of both servers, with the
// ratio of the gateway's figure to the static server's.
func writeComparison(w io.Writer, s, m measurement) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tstatic\tmodelgate\tratio\t")
	row := func(name, format string, a, b float64) {
		// A ratio to zero, such as of failed requests, means nothing.
		r := "-"
		if a != 0 {
			r = fmt.Sprintf("%.2f", b/a)
		}
		fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t%s\t\n", name, a, b, r)
	}

	row("requests/s", "%.0f", s.RequestsPerSecond, m.RequestsPerSecond)
	row("p50 latency (µs)", "%.0f", s.P50, m.P50)
	row("p90 latency (µs)", "%.0f", s.P90, m.P90)
	row("p99 latency (µs)", "%.0f", s.P99, m.P99)
	row("p99.5 latency (µs)", "%.0f", s.P995, m.P995)
	row("p99.9 latency (µs)", "%.0f", s.P999, m.P999)
	row("max latency (µs)", "%.0f", s.Max, m.Max)
	row("server CPU/request (µs)", "%.2f", s.CPUPerRequest,
		m.CPUPerRequest)
	row("load generator CPU/request (µs)", "%.2f", s.ClientCPUPerRequest,
		m.ClientCPUPerRequest)
	row("allocs/request", "%.1f", s.AllocsPerRequest, m.AllocsPerRequest)

	row("RSS idle (MiB)", "%.1f", mib(s.RSSIdle), mib(m.RSSIdle))
	row("RSS under load (MiB)", "%.1f", mib(s.RSSLoad), mib(m.RSSLoad))
	row("RSS peak, VmHWM (MiB)", "%.1f", mib(s.HWM), mib(m.HWM))

	row("responses", "%.0f", float64(s.Responses), float64(m.Responses))
	row("non-302 responses", "%.0f", float64(s.Responses-s.Redirects),
		float64(m.Responses-m.Redirects))
	row("failed requests", "%.0f", float64(s.Errors), float64(m.Errors))
	tw.Flush()

	for _, x := range []measurement{s, m} {
		if x.FirstError != "" {
			fmt.Fprintf(w, "%s: first failed request: %s\n", x.Name,
				x.FirstError)
		}
	}
	fmt.Fprintln(w)
}

func writeGatewayFacts(w io.Writer, g gatewayFacts) {
	fmt.Fprintf(w, "gateway, %d objects in %d models:\n", g.Objects,
		g.Models)
	fmt.Fprintf(w, "  cold start to /readyz 200:  %.2fs "+
		"(%d S3 requests)\n", g.ColdStart, g.StartupS3Requests)
	fmt.Fprintf(w, "  heap in use when idle:      %.1f MiB, %.0f "+
		"bytes/object for the whole process\n", mib(g.HeapInuseIdle),
		float64(g.HeapInuseIdle)/float64(g.Objects))
	fmt.Fprintf(w, "  access log:                 %d records, %.0f "+
		"bytes/record\n", g.AccessLogRecords,
		ratio(float64(g.AccessLogBytes), float64(g.AccessLogRecords)))
}

func writeRounds(w io.Writer, rounds map[string][]measurement) {
	fmt.Fprintln(w, "\nrequests/s by round:")
	for _, name := range []string{"static", "modelgate"} {
		fmt.Fprintf(w, "  %-10s", name)
		for _, m := range rounds[name] {
			fmt.Fprintf(w, " %8.0f", m.RequestsPerSecond)
		}
		fmt.Fprintln(w)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// countAccessLog counts the access-log records in the gateway's log
// file and its size. It returns zeros for a file that is not regular,
// such as /dev/null.
func countAccessLog(path string) (records, size int64, err error) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return 0, 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	marker := []byte(`"msg":"request"`)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), marker) {
			records++
		}
	}
	return records, fi.Size(), sc.Err()
}
