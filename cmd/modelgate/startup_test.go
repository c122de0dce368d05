package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/modelgate/modelgate/internal/demo"
)

// TestStartupErrors checks that each invalid command line or variable
// exits 2 before anything starts, with one line that names the flag or
// variable, followed by a pointer to the command's help and no usage
// text.
func TestStartupErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of the first line
	}{
		{"serve boolean with a space", []string{"serve", "--bucket",
			"models", "--allow-write-credentials", "false"}, nil,
			[]string{`unexpected argument "false"`,
				"--allow-write-credentials=false"}},
		{"demo boolean with a space", []string{"demo", "--rate-limit",
			"false"}, nil,
			[]string{`unexpected argument "false"`, "--rate-limit=false"}},
		{"serve stray argument", []string{"serve", "--bucket", "models",
			"extra"}, nil, []string{`unexpected argument "extra"`}},
		{"doctor stray argument", []string{"doctor", "--bucket", "models",
			"--", "extra"}, nil, []string{`unexpected argument "extra"`}},
		{"healthcheck stray argument", []string{"healthcheck", "extra"},
			nil, []string{`unexpected argument "extra"`}},
		{"publish second folder", []string{"publish", "a", "b",
			"--bucket", "models", "--model", "acme/tiny"}, nil,
			[]string{`unexpected argument "b"`}},
		{"boolean with a non-boolean value", []string{"serve", "--bucket",
			"models", "--allow-write-credentials", "yes"}, nil,
			[]string{`unexpected argument "yes"`,
				"--allow-write-credentials=true or " +
					"--allow-write-credentials=false"}},
		{"listen port out of range", []string{"demo", "--listen",
			"127.0.0.1:99999"}, nil,
			[]string{`--listen "127.0.0.1:99999"`, "0 to 65535"}},
		{"metrics on the main address", []string{"serve", "--bucket",
			"models", "--listen", "127.0.0.1:8080", "--metrics-listen",
			"127.0.0.1:8080"}, nil,
			[]string{"--metrics-listen", "same address as --listen"}},
		{"root with leading slash", []string{"serve", "--bucket",
			"models", "--root", "/models/"}, nil,
			[]string{`--root "/models/"`, "no leading slash"}},
		{"root with dot dot", []string{"publish", "dir", "--bucket",
			"models", "--model", "acme/tiny", "--root", "a/../b"}, nil,
			[]string{`--root "a/../b"`}},
		{"role ARN malformed", []string{"serve", "--bucket", "models",
			"--role-arn", "notanarn"}, nil,
			[]string{`--role-arn "notanarn"`, "arn:aws:iam::"}},
		{"role session name invalid", []string{"serve", "--bucket",
			"models", "--role-arn",
			"arn:aws:iam::123456789012:role/read", "--role-session-name",
			"bad name!"}, nil,
			[]string{`--role-session-name "bad name!"`, "2 to 64"}},
		{"part size over the S3 maximum", []string{"publish", "dir",
			"--bucket", "models", "--model", "acme/tiny", "--part-size",
			"6GiB"}, nil, []string{"--part-size 6GiB", "5MiB to 5GiB"}},
		{"idle timeout negative", []string{"serve", "--bucket", "models",
			"--idle-timeout", "-5s"}, nil,
			[]string{"--idle-timeout -5s must be positive"}},
		{"refresh interval too short", []string{"serve", "--bucket",
			"models", "--refresh-interval", "1ns"}, nil,
			[]string{"--refresh-interval 1ns", "1s or longer"}},
		{"list timeout zero", []string{"serve", "--bucket", "models",
			"--list-timeout", "0s"}, nil,
			[]string{"--list-timeout 0s", "1s or longer"}},
		{"negative page size", []string{"serve", "--bucket", "models",
			"--page-size", "-5"}, nil, []string{"--page-size -5", "1 to 10000"}},
		{"zero page size", []string{"demo", "--page-size", "0"}, nil,
			[]string{"--page-size 0", "1 to 10000"}},
		{"public URL", []string{"serve", "--bucket", "models",
			"--public-url", "not-a-url"}, nil,
			[]string{`--public-url "not-a-url"`, "absolute http or https"}},
		{"bucket name", []string{"serve", "--bucket", "Bad_Bucket!"}, nil,
			[]string{`--bucket "Bad_Bucket!"`, "letters, digits"}},
		{"bucket not a DNS label", []string{"doctor", "--bucket", "b"},
			nil, []string{`--bucket "b"`, "--s3-path-style"}},
		{"region", []string{"serve", "--bucket", "models", "--region",
			"EU_WEST"}, nil, []string{`--region "EU_WEST"`, "eu-west-1"}},
		{"publish region", []string{"publish", "dir", "--bucket", "models",
			"--model", "acme/tiny", "--region", "EU_WEST"}, nil,
			[]string{`--region "EU_WEST"`}},
		{"public endpoint", []string{"serve", "--bucket", "models",
			"--s3-public-endpoint", "garbage"}, nil,
			[]string{`--s3-public-endpoint "garbage"`, "http or https"}},
		{"endpoint used as public endpoint", []string{"serve", "--bucket",
			"models", "--s3-endpoint", "http://127.0.0.1:9000/s3"}, nil,
			[]string{"--s3-public-endpoint", "--s3-endpoint is used"}},
		{"duration variable", []string{"serve", "--bucket", "models"},
			map[string]string{"MODELGATE_DRAIN_TIMEOUT": "20"},
			[]string{`invalid value "20" for MODELGATE_DRAIN_TIMEOUT: ` +
				"want a duration such as 20s or 1m"}},
		{"number variable", []string{"demo"},
			map[string]string{"MODELGATE_RATE_DOWNLOAD": "abc"},
			[]string{`invalid value "abc" for MODELGATE_RATE_DOWNLOAD: ` +
				"want a number"}},
		{"healthcheck timeout", []string{"healthcheck", "--timeout", "abc"},
			nil, []string{`invalid value "abc" for --timeout: want a ` +
				"duration"}},
		{"boolean value", []string{"serve", "--bucket", "models",
			"--rate-limit=maybe"}, nil,
			[]string{`invalid value "maybe" for --rate-limit: want true ` +
				"or false"}},
		{"integer value", []string{"serve", "--bucket", "models",
			"--page-size", "ten"}, nil,
			[]string{`invalid value "ten" for --page-size: want a whole ` +
				"number"}},
		{"byte size", []string{"publish", "dir", "--bucket", "models",
			"--model", "acme/tiny", "--part-size", "lots"}, nil,
			[]string{`invalid value "lots" for --part-size`, "16MiB"}},
		{"URL floor", []string{"serve", "--bucket", "models",
			"--url-floor", "x"}, nil,
			[]string{`--url-floor "x" is not a duration`}},
		{"URL expiry zero", []string{"serve", "--bucket", "models",
			"--url-expiry", "0"}, nil,
			[]string{"--url-expiry 0s is outside the allowed range"}},
		{"unknown flag", []string{"healthcheck", "--nope"}, nil,
			[]string{"unknown flag --nope"}},
		{"missing value", []string{"serve", "--listen"}, nil,
			[]string{"flag --listen needs a value"}},
		{"demo bucket", []string{"demo", "--bucket", "models"}, nil,
			[]string{"unknown flag --bucket"}},
		{"demo role", []string{"demo", "--role-arn", "x"}, nil,
			[]string{"unknown flag --role-arn"}},
		{"demo S3 on every interface", []string{"demo",
			"--demo-s3-listen", "0.0.0.0:9000"}, nil,
			[]string{`--demo-s3-listen "0.0.0.0:9000" is not a loopback`}},
		{"demo S3 without host", []string{"demo",
			"--demo-s3-listen", ":9000"}, nil,
			[]string{`--demo-s3-listen ":9000" is not a loopback`}},
		{"reserved model", []string{"publish", "dir", "--bucket", "models",
			"--model", "-/static"}, nil,
			[]string{`--model: model "-/static" is reserved`}},
		{"small parts", []string{"publish", "dir", "--bucket", "models",
			"--model", "acme/tiny", "--part-size", "1MiB"}, nil,
			[]string{"--part-size 1MiB is outside the part sizes S3 accepts, 5MiB to 5GiB"}},
		{"doctor timeout", []string{"doctor", "--bucket", "models",
			"--doctor-timeout", "0s"}, nil,
			[]string{"--doctor-timeout 0s", "1s or longer"}},
		{"log flush interval negative", []string{"serve", "--bucket",
			"models", "--log-flush-interval", "-1s"}, nil,
			[]string{"--log-flush-interval -1s is outside the allowed " +
				"range: 0 to 1m"}},
		{"log flush interval too long", []string{"demo",
			"--log-flush-interval", "1h"}, nil,
			[]string{"--log-flush-interval 1h0m0s", "0 to 1m"}},
		{"log flush interval not a duration", []string{"demo",
			"--log-flush-interval", "fast"}, nil,
			[]string{`--log-flush-interval "fast" is not a duration`}},
		{"log flush interval variable", []string{"serve", "--bucket",
			"models"}, map[string]string{
			"MODELGATE_LOG_FLUSH_INTERVAL": "-5ms"},
			[]string{`invalid value "-5ms" for ` +
				"MODELGATE_LOG_FLUSH_INTERVAL", "0 to 1m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr,
				func(k string) string { return tt.env[k] }, nil)
			out := stderr.String()
			if code != 2 {
				t.Fatalf("run(%q) = %d, want 2; stderr:\n%s", tt.args,
					code, out)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			for _, w := range tt.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("run(%q) error %q does not contain %q",
						tt.args, lines[0], w)
				}
			}
			command := tt.args[0]
			hint := "run modelgate " + command + " --help for the flags"
			if len(lines) != 2 || lines[1] != hint {
				t.Errorf("run(%q) stderr = %q, want the error and %q",
					tt.args, out, hint)
			}
			for _, flagPackageText := range []string{"for flag -",
				"not defined: -", "argument: -", "Usage:"} {
				if strings.Contains(out, flagPackageText) {
					t.Errorf("run(%q) stderr has the flag package's "+
						"text %q:\n%s", tt.args, flagPackageText, out)
				}
			}
		})
	}
}

// TestDemoFlags checks that demo offers the gateway's flags and none of
// the flags that select a bucket or credentials.
func TestDemoFlags(t *testing.T) {
	var stderr bytes.Buffer
	code := run([]string{"demo", "--help"}, io.Discard, &stderr,
		func(string) string { return "" }, nil)
	if code != 0 {
		t.Fatalf("demo --help = %d, want 0", code)
	}
	help := stderr.String()
	for _, want := range []string{"--listen ", "--metrics-listen ",
		"--public-url ", "--page-size ", "--cors-origins ",
		"--log-format ", "--log-level ", "--log-flush-interval ",
		"--rate-limit ",
		"--rate-download ", "--url-expiry ", "--drain-timeout ",
		"--refresh-interval ", "--list-timeout ", "--demo-s3-listen "} {
		if !strings.Contains(help, want) {
			t.Errorf("demo --help lacks %s", want)
		}
	}
	for _, unwanted := range []string{"--bucket ", "--root ",
		"--region ", "--role-arn ", "--s3-endpoint ", "--sts-endpoint ",
		"--s3-public-endpoint ", "--s3-path-style ", "--url-floor ",
		"--allow-write-credentials ", "--role-session-duration "} {
		if strings.Contains(help, unwanted) {
			t.Errorf("demo --help lists %s, which demo does not use",
				unwanted)
		}
	}
}

func TestUnknownEnv(t *testing.T) {
	tests := []struct {
		command string
		environ []string
		want    string
	}{
		{"serve", []string{"MODELGATE_BUCKET=models",
			"MODELGATE_BUCKETT=typo", "MODELGATE_HEALTHCHECK_URL=x",
			"HOME=/root", "MODELGATE_LISTEN="}, "MODELGATE_BUCKETT"},
		{"healthcheck", []string{"MODELGATE_BUCKET=models",
			"MODELGATE_HEALTHCHECK_URL=x",
			"MODELGATE_HEALTHCHECK_TIMOUT=1s"},
			"MODELGATE_HEALTHCHECK_TIMOUT"},
		{"demo", []string{"MODELGATE_BUCKET=models",
			"MODELGATE_LISTEN=127.0.0.1:8080"}, "MODELGATE_BUCKET"},
		{"serve", []string{"MODELGATE_LISTEN=x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.command+"/"+tt.want, func(t *testing.T) {
			fs := newFlagSet(tt.command, "", io.Discard)
			switch tt.command {
			case "healthcheck":
				new(healthcheckOptions).register(fs)
			case "demo":
				new(serveOptions).registerGateway(fs, false)
			default:
				new(serveOptions).register(fs)
			}
			got := strings.Join(unknownEnv(fs, tt.environ), ",")
			if got != tt.want {
				t.Errorf("unknownEnv(%q) = %q, want %q", tt.environ, got,
					tt.want)
			}
		})
	}
}

// TestUnknownEnvWarning checks that the warning names a misspelt
// variable once and never prints its value.
func TestUnknownEnvWarning(t *testing.T) {
	var stderr bytes.Buffer
	environ := []string{"MODELGATE_HEALTHCHECK_TIMOUT=s3cr3t-value"}
	code := run([]string{"healthcheck", "--url", closedPortURL(t)},
		io.Discard, &stderr, func(string) string { return "" }, environ)
	out := stderr.String()
	if code != 1 {
		t.Errorf("healthcheck of a closed port = %d, want 1", code)
	}
	if n := strings.Count(out, "MODELGATE_HEALTHCHECK_TIMOUT"); n != 1 {
		t.Errorf("stderr names the variable %d times, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "s3cr3t-value") {
		t.Errorf("stderr prints the variable's value:\n%s", out)
	}
}

// TestDemoLog starts the demo with a flush interval longer than the
// test, sends one request and stops the demo with SIGTERM. The shutdown
// must write the lines still buffered, with the access record in order
// among them. The durations in the log must be readable strings, and
// one warning must name the variable that demo has no flag for, without
// its value.
func TestDemoLog(t *testing.T) {
	addr := freeAddr(t)
	p := startMain(t, []string{"MODELGATE_BUCKET=not-for-demo"}, "demo",
		"--listen", addr, "--log-flush-interval", "1m")
	waitFor(t, p, addr, ready)
	getWithRequestID(t, "http://"+addr+"/api/models/"+demo.Model,
		"demo-log-check")
	// Lines other than access records are written at once, while the
	// access record waits for the interval or the exit.
	early := waitForOutput(t, p, `"msg":"listening"`)
	if strings.Contains(early, "demo-log-check") {
		t.Errorf("access record written before the flush interval or "+
			"the exit:\n%s", early)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM: %v", err)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("demo exit code after SIGTERM = %d, want 0", code)
	}

	out := p.output()
	for _, want := range []string{`"url_expiry":"1h0m0s"`,
		`"url_floor":"5m0s"`, `"credentials_margin":"5m0s"`,
		`"refresh_interval":"5m0s"`, `"log_flush_interval":"1m0s"`,
		`"names":["MODELGATE_BUCKET"]`} {
		if !strings.Contains(out, want) {
			t.Errorf("demo log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "3600000000000") {
		t.Errorf("demo log has a duration in nanoseconds:\n%s", out)
	}
	if strings.Contains(out, "not-for-demo") {
		t.Errorf("demo log shows a variable's value:\n%s", out)
	}

	record := strings.Index(out,
		`"msg":"request","request_id":"demo-log-check","method":"GET"`)
	shutdown := strings.Index(out, `"msg":"shutting down;`)
	stopped := strings.Index(out, `"msg":"modelgate stopped"`)
	if record < 0 || shutdown < 0 || stopped < 0 {
		t.Fatalf("demo log lacks the access record (at %d), the "+
			"shutdown record (at %d) or the stop record (at %d):\n%s",
			record, shutdown, stopped, out)
	}
	if record > shutdown || shutdown > stopped {
		t.Errorf("demo log records out of order: access record at %d, "+
			"shutdown at %d, stop at %d:\n%s", record, shutdown, stopped,
			out)
	}
}

// getWithRequestID sends GET url with the X-Request-Id id and fails tb
// unless the response is 200.
func getWithRequestID(tb testing.TB, url, id string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatalf("NewRequest(GET %s): %v", url, err)
	}
	req.Header.Set("X-Request-Id", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: status %d, want 200", url, resp.StatusCode)
	}
}
