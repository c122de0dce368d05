package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Names of the runtime metrics read from a server's /metrics, as the
// Prometheus Go collector names them.
const (
	metricMallocs    = "go_memstats_mallocs_total"
	metricHeapInuse  = "go_memstats_heap_inuse_bytes"
	metricGoroutines = "go_goroutines"
)

// runtimeStats are the runtime metrics of one scrape.
type runtimeStats struct {
	Mallocs    float64
	HeapInuse  float64
	Goroutines float64
}

// parseMetric returns the value of the sample of the named metric that
// has no labels, from text in the Prometheus text exposition format.
func parseMetric(text, name string) (float64, error) {
	for line := range strings.Lines(text) {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, fmt.Errorf("metric %s has no value", name)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %w", name, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// parseRuntimeStats reads the runtime metrics from a scrape.
func parseRuntimeStats(text string) (runtimeStats, error) {
	var s runtimeStats
	for _, m := range []struct {
		name string
		dst  *float64
	}{
		{metricMallocs, &s.Mallocs},
		{metricHeapInuse, &s.HeapInuse},
		{metricGoroutines, &s.Goroutines},
	} {
		v, err := parseMetric(text, m.name)
		if err != nil {
			return runtimeStats{}, err
		}
		*m.dst = v
	}
	return s, nil
}

// scrapeRuntimeStats fetches url, a /metrics endpoint, and reads the
// runtime metrics from it.
func scrapeRuntimeStats(ctx context.Context, client *http.Client,
	url string,
) (runtimeStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return runtimeStats{}, err
	}
	// Ask for the text format: the Prometheus handler may otherwise
	// choose another one.
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return runtimeStats{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return runtimeStats{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return runtimeStats{}, fmt.Errorf("scrape %s: status %s", url,
			resp.Status)
	}
	s, err := parseRuntimeStats(string(body))
	if err != nil {
		return runtimeStats{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	return s, nil
}
