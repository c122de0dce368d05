package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// healthcheckOptions holds the settings of "modelgate healthcheck".
type healthcheckOptions struct {
	url     string
	timeout time.Duration
}

// register defines the healthcheck flags on fs.
func (o *healthcheckOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080/healthz",
		"URL to probe; set it when the gateway listens on another port")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Second,
		"time limit for the probe, from connecting to reading the response")
}

// validate checks that the URL is absolute http or https and the
// timeout is positive.
func (o *healthcheckOptions) validate() error {
	u, err := url.Parse(o.url)
	if err != nil {
		return fmt.Errorf("--url %q is not a URL: %w", o.url, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q is not an absolute http or https URL",
			o.url)
	}
	if o.timeout <= 0 {
		return fmt.Errorf("--timeout %v must be positive", o.timeout)
	}
	return nil
}

// runHealthcheck implements "modelgate healthcheck": one GET of the
// health URL. It exits 0 when the response is 200 OK, 1 on any other
// status or a failed request, and 2 on invalid flags. Redirects are not
// followed, so a 3xx counts as unhealthy.
func runHealthcheck(args []string, stdout, stderr io.Writer,
	getenv func(string) string, environ []string,
) int {
	var o healthcheckOptions
	fs := newFlagSet("healthcheck", "Probe a running gateway's health "+
		"endpoint: exit 0 on 200 OK, 1 otherwise. Made for container "+
		"health checks in images without a shell or curl.", stderr)
	o.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return exitCodeFor(stderr, "healthcheck", err)
	}
	if err := o.validate(); err != nil {
		return exitCodeFor(stderr, "healthcheck", err)
	}
	printUnknownEnv(stderr, fs, environ)

	status, err := probe(o.url, o.timeout)
	if err != nil {
		fmt.Fprintf(stderr, "modelgate healthcheck: unhealthy: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "modelgate healthcheck: %s: %s\n", o.url, status)
	return 0
}

// probe sends GET rawURL and returns the status line of a 200 response.
// Any other status, or a request that fails or exceeds timeout, is an
// error that names the URL.
func probe(rawURL string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", fmt.Errorf("build request for %s: %w", rawURL, err)
	}
	req.Header.Set("User-Agent", "modelgate-healthcheck/"+version)

	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: status %s, want 200 OK",
			rawURL, resp.Status)
	}
	return resp.Status, nil
}
