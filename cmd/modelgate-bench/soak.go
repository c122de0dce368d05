package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"text/tabwriter"
	"time"
)

// soakOptions holds the settings of "modelgate-bench soak".
type soakOptions struct {
	gatewayOptions
	interval  time.Duration
	tolerance float64
}

// soakPoint is one sample of a soak run.
type soakPoint struct {
	Elapsed    time.Duration
	RPS        float64
	P99        time.Duration
	Failed     int64 // failed requests and non-302 responses
	RSS        int64
	HeapInuse  float64
	Goroutines float64
}

// runSoak implements "modelgate-bench soak": it loads the gateway for
// a long time, samples its memory and goroutines, and judges whether
// they grow after the warm-up.
func runSoak(args []string, stdout, stderr io.Writer) int {
	var o soakOptions
	fs := newFlagSet("soak", "Load modelgate for a long time and report "+
		"whether its memory or goroutines grow.", stderr)
	o.register(fs, commandDefaults{warmup: time.Minute,
		duration: 10 * time.Minute, refresh: time.Minute,
		accessLog: os.DevNull})
	fs.DurationVar(&o.interval, "sample-interval", 5*time.Second,
		"time between samples")
	fs.Float64Var(&o.tolerance, "tolerance", 0.10,
		"largest growth, as a fraction, of the last third's mean over "+
			"the first third's that counts as stable")
	if code, ok := parseCommand(fs, args, o.validate, stderr); !ok {
		return code
	}

	ctx, stop := signalContext()
	defer stop()
	machine := readMachineInfo()
	points, gw, err := soak(ctx, &o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "modelgate-bench soak: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "machine: %d CPUs, %s; load average %s before, "+
		"%s after\n", machine.CPUs, machine.CPUModel, machine.LoadBefore,
		loadAverage())
	fmt.Fprintf(stdout, "soak: %d connections, %v warm-up, %v measured, "+
		"refresh interval %v, %d S3 requests during the load\n\n",
		o.load.concurrency, o.load.warmup, o.load.duration, o.refresh,
		gw.loadS3)
	writeSoakSeries(stdout, points)
	stable := writeSoakVerdict(stdout, points, o.load.warmup, o.tolerance)
	if !stable {
		return 1
	}
	return 0
}

func (o *soakOptions) validate() error {
	if o.interval <= 0 || o.tolerance < 0 {
		return errors.New("--sample-interval must be positive and " +
			"--tolerance must not be negative")
	}
	return o.gatewayOptions.validate()
}

type soakFacts struct{ loadS3 int64 }

// soak runs the load and samples the gateway every interval.
func soak(ctx context.Context, o *soakOptions, stderr io.Writer) (
	[]soakPoint, soakFacts, error,
) {
	client := &http.Client{Timeout: 10 * time.Second}
	gw, err := startGateway(ctx, &o.gatewayOptions, client, stderr)
	if err != nil {
		return nil, soakFacts{}, err
	}
	defer gw.Close()
	t := gw.target(o.layout())
	s3Before := gw.s3.Requests()

	g, err := startLoad(loadConfig{Addr: t.proc.Addr, Paths: t.paths,
		Concurrency: o.load.concurrency, Seed: o.load.seed,
		Timeout: o.load.timeout})
	if err != nil {
		return nil, soakFacts{}, err
	}
	defer g.Stop()

	start := time.Now()
	end := start.Add(o.load.warmup + o.load.duration)
	var points []soakPoint
	for time.Now().Before(end) {
		if err := sleepCtx(ctx, o.interval); err != nil {
			return points, soakFacts{}, err
		}
		p, err := soakSample(ctx, client, t, g.Drain())
		if err != nil {
			return points, soakFacts{}, err
		}
		p.Elapsed = time.Since(start)
		points = append(points, p)
		fmt.Fprintf(stderr, "%6.0fs %8.0f req/s  RSS %6.1f MiB  heap "+
			"%6.1f MiB  goroutines %4.0f\n", p.Elapsed.Seconds(), p.RPS,
			mib(p.RSS), p.HeapInuse/(1<<20), p.Goroutines)
	}
	return points, soakFacts{loadS3: gw.s3.Requests() - s3Before}, nil
}

func soakSample(ctx context.Context, client *http.Client, t target,
	s loadSample,
) (soakPoint, error) {
	rt, err := scrapeRuntimeStats(ctx, client, t.metricsURL)
	if err != nil {
		return soakPoint{}, err
	}
	mem, err := readProcStatus(t.proc.PID())
	if err != nil {
		return soakPoint{}, err
	}
	lat := summarizeLatencies(s.Latencies)
	n := s.Responses()
	return soakPoint{
		RPS:        float64(n) / s.Elapsed.Seconds(),
		P99:        lat.P99,
		Failed:     s.Errors + n - s.Statuses[http.StatusFound],
		RSS:        mem.RSS,
		HeapInuse:  rt.HeapInuse,
		Goroutines: rt.Goroutines,
	}, nil
}

func writeSoakSeries(w io.Writer, points []soakPoint) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "time (s)\trequests/s\tp99 (µs)\tfailed\tRSS (MiB)\t"+
		"heap in use (MiB)\tgoroutines\t")
	for _, p := range points {
		fmt.Fprintf(tw, "%.0f\t%.0f\t%.0f\t%d\t%.1f\t%.1f\t%.0f\t\n",
			p.Elapsed.Seconds(), p.RPS, micros(p.P99), p.Failed,
			mib(p.RSS), p.HeapInuse/(1<<20), p.Goroutines)
	}
	tw.Flush()
}

// soakGrowth compares the mean of the last third of the points after
// the warm-up with the mean of the first third, for RSS, heap and
// goroutines. Growth is (last - first) / first.
type soakGrowth struct {
	Name        string
	First, Last float64
	Growth      float64
}

func soakGrowths(points []soakPoint, warmup time.Duration) []soakGrowth {
	var steady []soakPoint
	for _, p := range points {
		if p.Elapsed > warmup {
			steady = append(steady, p)
		}
	}
	third := len(steady) / 3
	if third == 0 {
		return nil
	}
	first, last := steady[:third], steady[len(steady)-third:]
	series := []struct {
		name string
		get  func(soakPoint) float64
	}{
		{"RSS (MiB)", func(p soakPoint) float64 { return mib(p.RSS) }},
		{"heap in use (MiB)", func(p soakPoint) float64 {
			return p.HeapInuse / (1 << 20)
		}},
		{"goroutines", func(p soakPoint) float64 { return p.Goroutines }},
	}
	var out []soakGrowth
	for _, s := range series {
		g := soakGrowth{Name: s.name, First: meanOf(first, s.get),
			Last: meanOf(last, s.get)}
		g.Growth = ratio(g.Last-g.First, g.First)
		out = append(out, g)
	}
	return out
}

func meanOf(points []soakPoint, get func(soakPoint) float64) float64 {
	values := make([]float64, len(points))
	for i, p := range points {
		values[i] = get(p)
	}
	return mean(values)
}

// writeSoakVerdict prints the growth of each series and reports whether
// all stayed within tolerance.
func writeSoakVerdict(w io.Writer, points []soakPoint,
	warmup time.Duration, tolerance float64,
) bool {
	growths := soakGrowths(points, warmup)
	if len(growths) == 0 {
		fmt.Fprintln(w, "\nverdict: too few samples after the warm-up "+
			"to compare thirds")
		return false
	}
	fmt.Fprintf(w, "\nafter the %v warm-up, mean of the first third "+
		"against the last third:\n", warmup)
	stable := true
	for _, g := range growths {
		ok := g.Growth <= tolerance
		stable = stable && ok
		fmt.Fprintf(w, "  %-18s %8.1f -> %8.1f  %+6.1f%%  %s\n", g.Name,
			g.First, g.Last, 100*g.Growth, map[bool]string{
				true: "stable", false: "GROWS"}[ok])
	}
	if stable {
		fmt.Fprintf(w, "verdict: stable (no series grew more than %.0f%%)\n",
			100*tolerance)
	} else {
		fmt.Fprintf(w, "verdict: growth beyond %.0f%%; look for a leak\n",
			100*tolerance)
	}
	return stable
}
