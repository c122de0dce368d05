package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// dashboardPath is the Grafana dashboard, relative to this package.
const dashboardPath = "../deploy/grafana/modelgate.json"

// dashboardQueries returns every PromQL expression of the dashboard: the
// panels' targets and the template variables' queries.
func dashboardQueries(tb testing.TB) []string {
	tb.Helper()
	data, err := os.ReadFile(dashboardPath)
	if err != nil {
		tb.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		tb.Fatalf("%s: %v", dashboardPath, err)
	}
	var queries []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				walk(child, k)
			}
		case []any:
			for _, child := range v {
				walk(child, key)
			}
		case string:
			if key == "expr" || key == "query" && v != "prometheus" {
				queries = append(queries, v)
			}
		}
	}
	walk(doc, "")
	if len(queries) == 0 {
		tb.Fatalf("%s has no queries", dashboardPath)
	}
	return queries
}

var metricName = regexp.MustCompile(`\bmodelgate_[a-zA-Z0-9_]*`)

// exportedNames returns the names of the series in a scrape of g:
// each metric family's name, and for histograms the names of their
// _bucket, _sum and _count series.
func exportedNames(tb testing.TB, g *testGateway) map[string]bool {
	tb.Helper()
	names := make(map[string]bool)
	for _, line := range strings.Split(g.scrape(tb), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 4 || fields[0] != "#" || fields[1] != "TYPE" {
			continue
		}
		name := fields[2]
		names[name] = true
		if fields[3] == "histogram" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
		}
	}
	return names
}

func TestDashboardUsesExportedMetrics(t *testing.T) {
	g := startGateway(t)
	// A download and a request give every labelled family a series.
	g.expect(t, http.StatusFound, "GET", resolveBase+"config.json")
	exported := exportedNames(t, g)

	used := make(map[string]bool)
	for _, q := range dashboardQueries(t) {
		for _, name := range metricName.FindAllString(q, -1) {
			used[name] = true
		}
	}
	if len(used) < 10 {
		t.Errorf("dashboard uses %d modelgate metrics, want at least 10",
			len(used))
	}
	var missing []string
	for name := range used {
		if !exported[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("dashboard uses metrics the gateway does not export: %s",
			strings.Join(missing, ", "))
	}
}

// grafanaVariables replaces the dashboard's variables with values that
// Prometheus accepts, so that its queries can run as they are.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__range", "1h",
	"$job", ".*",
	"$model", ".*",
)
