// Command modelgate-bench measures the cost of a modelgate download
// redirect against a server that responds to every request with a fixed
// redirect, and checks the gateway for growth under sustained load.
//
// Usage:
//
//	modelgate-bench run [flags]     compare the gateway with the baseline
//	modelgate-bench soak [flags]    load the gateway and record its memory
//	modelgate-bench static [flags]  the baseline server, started by run
//
// Every server listens on 127.0.0.1. The gateway reads a bucket of
// generated models from an in-memory S3 server inside the bench
// process. See BENCHMARKS.md at the repository root for results.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `modelgate-bench measures modelgate's download redirects.

Usage:
  modelgate-bench run [flags]     compare the gateway with a static redirect
  modelgate-bench soak [flags]    load the gateway for long and record memory
  modelgate-bench static [flags]  the baseline server (run starts it)

Run "modelgate-bench COMMAND --help" for the flags of each command.
`

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs a subcommand and returns the exit code.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runCompare(args[1:], stdout, stderr)
	case "soak":
		return runSoak(args[1:], stdout, stderr)
	case "static":
		return runStatic(args[1:], stdout, stderr)
	case "--help", "-help", "-h", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "modelgate-bench: unknown command %q\n\n%s",
		args[0], usage)
	return 2
}

// newFlagSet returns a flag set that prints its usage to out.
func newFlagSet(name, summary string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: modelgate-bench %s [flags]\n\n%s\n\n"+
			"Flags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseCommand parses args into fs and validates them. When the command
// must not run, it returns false and the exit code: 0 after --help, 2
// for invalid flags, whose error it has printed.
func parseCommand(fs *flag.FlagSet, args []string, validate func() error,
	stderr io.Writer,
) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if err := validate(); err != nil {
		fmt.Fprintf(stderr, "modelgate-bench %s: %v\n", fs.Name(), err)
		return 2, false
	}
	return 0, true
}

// signalContext returns a context that SIGTERM or SIGINT cancels, so
// that an interrupted run still stops the servers it started.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM,
		syscall.SIGINT)
}
