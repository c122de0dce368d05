package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/modelgate/modelgate/internal/demo"
)

// runDemo implements "modelgate demo": an in-memory S3 server seeded
// with a small model, and the gateway in front of it.
func runDemo(args []string, stdout, stderr io.Writer,
	getenv func(string) string,
) int {
	var o serveOptions
	fs := newFlagSet("demo", "Serve a built-in demo model from an "+
		"in-memory S3 server. Needs no AWS account and no network.", stderr)
	o.register(fs)
	s3Listen := fs.String("demo-s3-listen", "127.0.0.1:0",
		"address of the in-memory S3 server; port 0 picks a free one")
	if err := parseFlags(fs, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "modelgate demo: %v\n", err)
		return 2
	}

	s3srv, err := demo.Start(*s3Listen)
	if err != nil {
		fmt.Fprintf(stderr, "modelgate demo: %v\n", err)
		return 1
	}
	defer s3srv.Close()

	o.bucket = demo.Bucket
	o.aws.Endpoint = s3srv.URL
	o.aws.PathStyle = true
	o.aws.RoleARN = ""
	o.skipWriteCheck = true
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "modelgate demo: %v\n", err)
		return 2
	}
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "modelgate demo: %v\n", err)
		return 2
	}

	// The in-memory server checks no signatures; these credentials
	// only make the requests well-formed.
	creds := credentials.NewStaticCredentialsProvider("demo", "demo", "")
	awsCfg := aws.Config{Region: o.aws.Region, Credentials: creds}

	printDemoHelp(stdout, o.listen)
	ctx := signalContext()
	if err := serve(ctx, &o, log, awsCfg, creds); err != nil {
		log.Error("modelgate stopped with an error", "err", err)
		return 1
	}
	return 0
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
