// Command modelgate serves model weights from an S3 bucket by responding to
// each download with a redirect to a short-lived pre-signed URL.
//
// Usage:
//
//	modelgate serve --bucket BUCKET [flags]
//	modelgate publish DIR --bucket BUCKET --model ORG/NAME [flags]
//	modelgate doctor --bucket BUCKET [flags]
//	modelgate demo [flags]
//	modelgate healthcheck [flags]
//
// Run "modelgate COMMAND --help" for the flags of each command. Every
// flag can also be set through an environment variable: MODELGATE_ and
// the flag name in upper case with dashes as underscores. The
// healthcheck flags use MODELGATE_HEALTHCHECK_ instead of MODELGATE_.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `modelgate serves model weights from S3 through pre-signed redirects.

Usage:
  modelgate serve [flags]   serve a bucket (see modelgate serve --help)
  modelgate publish DIR --model ORG/NAME [flags]
                            upload a model folder with its SHA-256 manifest
  modelgate doctor [flags]  check credentials and bucket with serve's flags
  modelgate demo [flags]    serve a built-in demo model from an in-memory S3
  modelgate healthcheck     probe a running gateway's /healthz (exit 0 if OK)
  modelgate --version       print the version

Every flag can also be set through an environment variable, MODELGATE_
followed by the flag name in upper case with dashes as underscores
(MODELGATE_HEALTHCHECK_ for the healthcheck flags).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv, os.Environ()))
}

// run dispatches to a subcommand and returns the exit code. getenv reads
// the flags' environment variables. environ is the environment as
// os.Environ returns it, which is checked for MODELGATE_ variables that
// match no flag, and nil skips that check.
func run(args []string, stdout, stderr io.Writer,
	getenv func(string) string, environ []string,
) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stdout, stderr, getenv, environ)
	case "publish":
		return runPublish(args[1:], stdout, stderr, getenv, environ)
	case "doctor":
		return runDoctor(args[1:], stdout, stderr, getenv, environ)
	case "demo":
		return runDemo(args[1:], stdout, stderr, getenv, environ)
	case "healthcheck":
		return runHealthcheck(args[1:], stdout, stderr, getenv, environ)
	case "--version", "-version", "version":
		fmt.Fprintf(stdout, "modelgate %s\n", version)
		return 0
	case "--help", "-help", "-h", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "modelgate: unknown command %q\n\n%s", args[0], usage)
	return 2
}
