package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// loadOptions are the load settings shared by every measurement.
type loadOptions struct {
	concurrency int
	warmup      time.Duration
	duration    time.Duration
	timeout     time.Duration
	seed        uint64
}

// target is a server process under load.
type target struct {
	name       string
	proc       *child
	metricsURL string
	paths      []string
}

// serverSnapshot is the state of a server process at one moment.
type serverSnapshot struct {
	cpu     procStat
	mem     procMemory
	runtime runtimeStats
	client  procStat // the bench process itself
}

func takeSnapshot(ctx context.Context, client *http.Client, t target) (
	serverSnapshot, error,
) {
	var s serverSnapshot
	var err error
	if s.runtime, err = scrapeRuntimeStats(ctx, client, t.metricsURL); err != nil {
		return s, err
	}
	if s.cpu, err = readProcStat(t.proc.PID()); err != nil {
		return s, fmt.Errorf("%s: %w", t.name, err)
	}
	if s.mem, err = readProcStatus(t.proc.PID()); err != nil {
		return s, fmt.Errorf("%s: %w", t.name, err)
	}
	if s.client, err = readProcStat(os.Getpid()); err != nil {
		return s, fmt.Errorf("bench process: %w", err)
	}
	return s, nil
}

// measurement is the outcome of loading one server for one round.
type measurement struct {
	Name string `json:"name"`

	// Responses counts the responses of the measured phase, and
	// Redirects those that were 302.
	Responses  int64         `json:"responses"`
	Redirects  int64         `json:"redirects"`
	Statuses   map[int]int64 `json:"statuses"`
	Errors     int64         `json:"errors"`
	FirstError string        `json:"first_error,omitempty"`

	Seconds           float64 `json:"seconds"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	P50               float64 `json:"p50_us"`
	P90               float64 `json:"p90_us"`
	P99               float64 `json:"p99_us"`
	P995              float64 `json:"p99_5_us"`
	P999              float64 `json:"p99_9_us"`
	Max               float64 `json:"max_us"`

	// CPUPerRequest is the server's user+system CPU time per response,
	// and ClientCPUPerRequest that of the bench process.
	CPUPerRequest       float64 `json:"cpu_per_request_us"`
	ClientCPUPerRequest float64 `json:"client_cpu_per_request_us"`
	AllocsPerRequest    float64 `json:"allocs_per_request"`

	// RSSIdle is VmRSS before the load, RSSLoad the largest VmRSS seen
	// while under load, and HWM the VmHWM at the end.
	RSSIdle int64 `json:"rss_idle_bytes"`
	RSSLoad int64 `json:"rss_load_bytes"`
	HWM     int64 `json:"rss_peak_bytes"`
}

// measureLoad loads t for the warm-up and then for the measured
// duration, and reports the measured phase.
func measureLoad(ctx context.Context, client *http.Client, t target,
	o loadOptions,
) (measurement, error) {
	idle, err := readProcStatus(t.proc.PID())
	if err != nil {
		return measurement{}, fmt.Errorf("%s: %w", t.name, err)
	}
	g, err := startLoad(loadConfig{Addr: t.proc.Addr, Paths: t.paths,
		Concurrency: o.concurrency, Seed: o.seed, Timeout: o.timeout})
	if err != nil {
		return measurement{}, err
	}
	defer g.Stop()

	if err := sleepCtx(ctx, o.warmup); err != nil {
		return measurement{}, err
	}
	before, err := takeSnapshot(ctx, client, t)
	if err != nil {
		return measurement{}, err
	}
	g.Drain()

	peak := sampleRSS(t.proc.PID(), 250*time.Millisecond)
	err = sleepCtx(ctx, o.duration)
	sample := g.Drain()
	rssLoad := peak()
	if err != nil {
		return measurement{}, err
	}
	after, err := takeSnapshot(ctx, client, t)
	if err != nil {
		return measurement{}, err
	}

	m := summarize(t.name, sample, before, after)
	m.RSSIdle = idle.RSS
	m.RSSLoad = max(rssLoad, after.mem.RSS)
	m.HWM = after.mem.HWM
	return m, nil
}

// summarize turns a load sample and the server snapshots around it into
// a measurement.
func summarize(name string, s loadSample, before, after serverSnapshot,
) measurement {
	lat := summarizeLatencies(s.Latencies)
	n := s.Responses()
	m := measurement{
		Name:      name,
		Responses: n,
		Redirects: s.Statuses[http.StatusFound],
		Statuses:  s.Statuses,
		Errors:    s.Errors,
		Seconds:   s.Elapsed.Seconds(),
		P50:       micros(lat.P50),
		P90:       micros(lat.P90),
		P99:       micros(lat.P99),
		P995:      micros(lat.P995),
		P999:      micros(lat.P999),
		Max:       micros(lat.Max),
	}
	if s.FirstError != nil {
		m.FirstError = s.FirstError.Error()
	}
	if n == 0 {
		return m
	}
	m.RequestsPerSecond = float64(n) / s.Elapsed.Seconds()
	m.CPUPerRequest = micros(after.cpu.CPU()-before.cpu.CPU()) / float64(n)
	m.ClientCPUPerRequest = micros(after.client.CPU()-
		before.client.CPU()) / float64(n)
	m.AllocsPerRequest = (after.runtime.Mallocs - before.runtime.Mallocs) /
		float64(n)
	return m
}

func micros(d time.Duration) float64 {
	return float64(d) / float64(time.Microsecond)
}

// sampleRSS reads the VmRSS of pid every interval until the returned
// function is called, which returns the largest value read.
func sampleRSS(pid int, interval time.Duration) func() int64 {
	var (
		mu   sync.Mutex
		peak int64
	)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if m, err := readProcStatus(pid); err == nil {
				mu.Lock()
				peak = max(peak, m.RSS)
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
