package server_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// prometheusConfig scrapes one target every second. It has no alerting,
// rule or remote-write section, so the server reaches nothing but the
// target.
const prometheusConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: modelgate
    static_configs:
      - targets: [%q]
`

// prometheusServer is a Prometheus server run by a test.
type prometheusServer struct {
	URL string
	out *syncBuffer
}

// startPrometheus runs a Prometheus server on 127.0.0.1 that scrapes
// target, with its storage in a temporary directory, and stops it when
// the test ends.
func startPrometheus(tb testing.TB, target string) *prometheusServer {
	tb.Helper()
	bin := lookPath(tb, "prometheus")
	dir := tb.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	cfg := fmt.Sprintf(prometheusConfig, target)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}

	addr := freeLoopbackAddr(tb)
	p := &prometheusServer{URL: "http://" + addr, out: &syncBuffer{}}
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	tb.Cleanup(func() { stopProcess(tb, cmd, exited) })

	p.waitReady(tb, exited)
	return p
}

// stopProcess sends SIGTERM to cmd, and kills it if it has not exited
// after ten seconds.
func stopProcess(tb testing.TB, cmd *exec.Cmd, exited <-chan struct{}) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		tb.Logf("%s did not stop on SIGTERM; killing it", cmd.Path)
		cmd.Process.Kill()
		<-exited
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free
// a moment ago.
func freeLoopbackAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitReady polls /-/ready until the server returns 200, for at most 30
// seconds.
func (p *prometheusServer) waitReady(tb testing.TB, exited <-chan struct{}) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			tb.Fatalf("prometheus exited before it was ready:\n%s", p.out)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("prometheus not ready after 30s:\n%s", p.out)
		}
	}
}

// queryResult is the part of a Prometheus instant-query response that
// the tests read.
type queryResult struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// run runs an instant query and fails the test unless Prometheus
// accepts it.
func (p *prometheusServer) run(tb testing.TB, q string) queryResult {
	tb.Helper()
	resp, err := http.Get(p.URL + "/api/v1/query?query=" +
		url.QueryEscape(q))
	if err != nil {
		tb.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var res queryResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil ||
		res.Status != "success" {
		tb.Fatalf("query %s: status %q (%s), %v", q, res.Status,
			res.Error, err)
	}
	return res
}

// query runs an instant query and returns the values of its series.
func (p *prometheusServer) query(tb testing.TB, q string) []float64 {
	tb.Helper()
	var values []float64
	for _, r := range p.run(tb, q).Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			tb.Fatalf("query %s: value %v: %v", q, r.Value, err)
		}
		values = append(values, v)
	}
	return values
}

// waitValue polls q until it returns the single value want, for at most
// a minute, and returns the last values seen.
func (p *prometheusServer) waitValue(tb testing.TB, q string,
	want float64,
) []float64 {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got := p.query(tb, q)
		if len(got) == 1 && got[0] == want {
			return got
		}
		if time.Now().After(deadline) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestPrometheusScrapesDownloads(t *testing.T) {
	g := startGateway(t)
	target := strings.TrimPrefix(g.URL, "http://")
	prom := startPrometheus(t, target)

	if got := prom.waitValue(t, `up{job="modelgate"}`, 1); len(got) != 1 ||
		got[0] != 1 {
		t.Fatalf("up = %v, want [1]\n%s", got, prom.out)
	}

	weights := resolveBase + "model.safetensors"
	g.expect(t, http.StatusFound, "GET", weights)
	g.expect(t, http.StatusFound, "GET", weights, "Range: bytes=0-0")
	g.expect(t, http.StatusFound, "GET", weights, "Range: bytes=0-")
	g.expect(t, http.StatusFound, "GET", weights, "Range: bytes=10-")

	q := fmt.Sprintf(`modelgate_downloads_total{model=%q}`, testModel)
	if got := prom.waitValue(t, q, 2); len(got) != 1 || got[0] != 2 {
		t.Errorf("%s = %v, want [2]", q, got)
	}
	q = fmt.Sprintf(`modelgate_downloads_total{model=%q}`, otherModel)
	if got := prom.query(t, q); len(got) != 1 || got[0] != 0 {
		t.Errorf("%s = %v, want [0]", q, got)
	}

	// Every query of the dashboard runs, and the top-models panel
	// finds the model.
	for _, q := range dashboardQueries(t) {
		q = grafanaVariables.Replace(q)
		if sel, ok := strings.CutPrefix(q, "label_values("); ok {
			q = sel[:strings.LastIndexByte(sel, ',')]
		}
		res := prom.run(t, q)
		if strings.HasPrefix(q, "topk(") && (len(res.Data.Result) == 0 ||
			res.Data.Result[0].Metric["model"] != testModel) {
			t.Errorf("%s = %+v, want %s first", q, res.Data.Result,
				testModel)
		}
	}
}
