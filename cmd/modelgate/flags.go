package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// envPrefix is prepended to a flag's name, in upper case with dashes
// turned into underscores, to form its environment variable.
const envPrefix = "MODELGATE_"

// healthcheckEnvPrefix replaces envPrefix for the healthcheck flags. The
// healthcheck runs in the gateway's own environment, where
// MODELGATE_LISTEN and the other serve variables are already set, so its
// variables need names of their own.
const healthcheckEnvPrefix = "MODELGATE_HEALTHCHECK_"

// envName returns the environment variable that sets the named flag of
// the command whose flag set is named command.
func envName(command, flagName string) string {
	prefix := envPrefix
	if command == "healthcheck" {
		prefix = healthcheckEnvPrefix
	}
	return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet returns a flag set whose usage lists each flag with its
// environment variable.
func newFlagSet(name, summary string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: modelgate %s [flags]\n\n%s\n\nFlags "+
			"(each can also be set by the environment variable shown):\n",
			name, summary)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(out, "  --%s  [%s]\n      %s%s\n", f.Name,
				envName(name, f.Name), f.Usage, def)
		})
	}
	return fs
}

// parseFlags parses args, then sets each flag not given on the command
// line from its environment variable. Command-line values win.
func parseFlags(fs *flag.FlagSet, args []string,
	getenv func(string) string,
) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var errs []string
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		v := getenv(envName(fs.Name(), f.Name))
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Sprintf("invalid value %q for %s: %v",
				v, envName(fs.Name(), f.Name), err))
		}
	})
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// knownEnv returns the environment variables of every flag in fs.
func knownEnv(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		names = append(names, envName(fs.Name(), f.Name))
	})
	return names
}
