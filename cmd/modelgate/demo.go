package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/modelgate/modelgate/internal/demo"
	"github.com/modelgate/modelgate/presign"
)

// runDemo implements "modelgate demo": an in-memory S3 server seeded
// with a small model, and the gateway in front of it. It takes the
// gateway's own flags but none that select a bucket or credentials.
func runDemo(args []string, stdout, stderr io.Writer,
	getenv func(string) string, environ []string,
) int {
	var o serveOptions
	fs := newFlagSet("demo", "Serve a built-in demo model from an "+
		"in-memory S3 server. Needs no AWS account and no network.", stderr)
	o.registerGateway(fs, false)
	s3Listen := fs.String("demo-s3-listen", "127.0.0.1:0",
		"loopback address of the in-memory S3 server, which accepts "+
			"writes from anyone; port 0 picks a free one")
	if err := parseFlags(fs, args, getenv); err != nil {
		return exitCodeFor(stderr, "demo", err)
	}
	if err := validateDemoS3Listen(*s3Listen); err != nil {
		return exitCodeFor(stderr, "demo", err)
	}
	ignoreBrokenPipe()
	log, logOut, err := o.openLog(stderr)
	if err != nil {
		return exitCodeFor(stderr, "demo", err)
	}
	defer closeLog(logOut, stderr, "demo")

	o.bucket = demo.Bucket
	o.aws.Region = "us-east-1"
	o.aws.Endpoint = "http://" + *s3Listen
	o.aws.PathStyle = true
	o.skipWriteCheck = true
	// The flags of these settings are serve's only; the start-up log
	// shows the defaults that the signer applies.
	o.signer.Margin = presign.DefaultMargin
	o.signer.Floor = presign.DefaultFloor
	if err := o.validate(); err != nil {
		return exitCodeFor(stderr, "demo", err)
	}
	warnUnknownEnv(log, fs, environ)

	s3srv, err := demo.Start(*s3Listen)
	if err != nil {
		// Through the log writer, so the line follows the warnings
		// that are still buffered.
		fmt.Fprintf(logOut, "modelgate demo: %v\n", err)
		return 1
	}
	defer s3srv.Close()
	// With port 0 in --demo-s3-listen, only the URL has the real port.
	o.aws.Endpoint = s3srv.URL
	o.signer.PublicEndpoint = s3srv.URL

	// The in-memory server checks no signatures; these credentials
	// only make the requests well-formed.
	creds := credentials.NewStaticCredentialsProvider("demo", "demo", "")
	awsCfg := aws.Config{Region: o.aws.Region, Credentials: creds}

	o.onListen = func(addr string) { printDemoHelp(stdout, addr) }
	ctx := signalContext()
	if err := serve(ctx, &o, log, awsCfg, creds); err != nil {
		log.Error("modelgate stopped with an error", "err", err)
		return 1
	}
	return 0
}

// validateDemoS3Listen returns an error unless addr is host:port with a
// loopback host: the in-memory S3 server accepts every request signed
// with the fixed demo credentials, writes included, so no other host may
// reach it.
func validateDemoS3Listen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--demo-s3-listen %q is not host:port: %w",
			addr, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--demo-s3-listen %q is not a loopback "+
			"address: the in-memory S3 server accepts any write made "+
			"with the fixed demo credentials, so it listens on "+
			"127.0.0.1 or [::1] only, such as 127.0.0.1:9000", addr)
	}
	return nil
}

// printDemoHelp prints commands to try against the demo.
func printDemoHelp(w io.Writer, listen string) {
	base := "http://" + listen
	file := "notes/naïve café (v1).txt"
	var segs []string
	for _, s := range strings.Split(file, "/") {
		segs = append(segs, url.PathEscape(s))
	}
	fmt.Fprintf(w, `modelgate demo: serving model %[2]s at %[1]s

Try:
  curl -L -O -J %[1]s/%[2]s/resolve/main/config.json
  curl -L -O -J %[1]s/%[2]s/resolve/main/model.safetensors
  curl -L -O -J '%[1]s/%[2]s/resolve/main/%[3]s'
  curl -I %[1]s/%[2]s/resolve/main/model.safetensors
  curl %[1]s/api/models/%[2]s
  HF_ENDPOINT=%[1]s hf download %[2]s

Press Ctrl-C to stop.
`, base, demo.Model, strings.Join(segs, "/"))
}
