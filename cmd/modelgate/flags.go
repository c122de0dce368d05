package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/presign"
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
// environment variable. The flag package itself prints nothing: parse
// errors are returned, and parseFlags prints the usage for --help.
func newFlagSet(name, summary string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
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

// registerBucketFlags defines the flags that locate the models and the
// credentials, shared by the commands that reach the bucket.
func registerBucketFlags(fs *flag.FlagSet, bucket, root *string,
	c *presign.AWSConfig,
) {
	fs.StringVar(bucket, "bucket", "", "S3 bucket holding the models (required)")
	fs.StringVar(root, "root", "",
		"key prefix under which models live as ORG/NAME/; empty is the bucket root")
	fs.StringVar(&c.Region, "region", "us-east-1", "the bucket's AWS region")
	fs.StringVar(&c.Endpoint, "s3-endpoint", "",
		"S3 endpoint to call; empty means AWS")
	fs.BoolVar(&c.PathStyle, "s3-path-style", false,
		"address the bucket in the URL path instead of the host name")
	fs.StringVar(&c.STSEndpoint, "sts-endpoint", "",
		"STS endpoint for --role-arn; empty means AWS")
	fs.StringVar(&c.RoleARN, "role-arn", "",
		"IAM role to assume with the default credentials; empty uses "+
			"the default credentials directly")
	fs.StringVar(&c.ExternalID, "role-external-id", "",
		"external ID passed to AssumeRole")
	fs.StringVar(&c.SessionName, "role-session-name", "modelgate",
		"role session name")
	fs.DurationVar(&c.SessionDuration, "role-session-duration",
		time.Hour, "role session length, 15m to 12h")
}

// parseFlags parses args, then sets each flag not given on the command
// line from its environment variable. Command-line values win. Any
// argument that is not a flag is an error: the commands that use it take
// flags only.
func parseFlags(fs *flag.FlagSet, args []string,
	getenv func(string) string,
) error {
	_, err := parseFlagsAndArgs(fs, args, getenv, 0)
	return err
}

// parseFlagsAndArgs is parseFlags for commands that take up to maxArgs
// arguments: the arguments may come before, between or after the flags,
// and are returned in order. A "--" ends the flags. More than maxArgs
// arguments is an error that names the first extra one. For --help it
// prints the usage and returns flag.ErrHelp.
func parseFlagsAndArgs(fs *flag.FlagSet, args []string,
	getenv func(string) string, maxArgs int,
) ([]string, error) {
	invalid := checkValues(fs)
	var positional []string
	for {
		if err := parseOnce(fs, args, invalid); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		consumed := len(args) - len(rest)
		afterDashes := consumed > 0 && args[consumed-1] == "--"
		take := rest[:1]
		if afterDashes {
			take = rest
		}
		for i, arg := range take {
			if len(positional) == maxArgs {
				prev := ""
				if i == 0 && !afterDashes && consumed > 0 {
					prev = args[consumed-1]
				}
				return nil, unexpectedArg(fs, arg, prev, maxArgs)
			}
			positional = append(positional, arg)
		}
		if afterDashes {
			break
		}
		args = rest[1:]
	}
	return positional, setFromEnv(fs, getenv)
}

// parseOnce runs fs.Parse with the usage printing turned off, so that an
// error is returned once and in the words of errFromParse. For --help it
// prints the usage and returns flag.ErrHelp.
func parseOnce(fs *flag.FlagSet, args []string, invalid *invalidValue) error {
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		if usage != nil {
			usage()
		}
		return err
	case invalid.err != nil:
		return invalid.err
	}
	return rewordFlagError(err)
}

// rewordFlagError rewrites an error of the flag package, which names
// flags with one dash, in the double-dash form that the help shows.
func rewordFlagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg,
		"flag provided but not defined: -"); ok {
		return fmt.Errorf("unknown flag --%s", name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Errorf("flag --%s needs a value, such as --%s=VALUE",
			name, name)
	}
	if arg, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return fmt.Errorf("invalid flag syntax %q: write --name=value "+
			"or --name value", arg)
	}
	return err
}

// unexpectedArg returns the error for the argument arg beyond the
// maxArgs that a command takes. prev is the argument before it, or ""
// when unknown. Most often arg is the value of a boolean flag written
// with a space, "--rate-limit false", which the flag package reads as
// "--rate-limit" followed by an argument, so the error shows the form
// --rate-limit=false.
func unexpectedArg(fs *flag.FlagSet, arg, prev string, maxArgs int) error {
	name := strings.TrimLeft(prev, "-")
	if strings.HasPrefix(prev, "-") && !strings.Contains(name, "=") {
		if f := fs.Lookup(name); f != nil && isBoolFlag(f) {
			value := arg
			if _, err := strconv.ParseBool(arg); err != nil {
				value = "true or --" + name + "=false"
			}
			return fmt.Errorf("unexpected argument %q after --%s; "+
				"boolean flags take the form --%s=%s", arg, name, name,
				value)
		}
	}
	takes := "no arguments"
	if maxArgs == 1 {
		takes = "one argument"
	}
	return fmt.Errorf("unexpected argument %q; this command takes %s, "+
		"and boolean flags take the form --name=false", arg, takes)
}

// isBoolFlag reports whether f is set without a value, as --flag.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// setFromEnv sets each flag not given on the command line from its
// environment variable.
func setFromEnv(fs *flag.FlagSet, getenv func(string) string) error {
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

// unknownEnv returns, sorted, the names of the variables in environ
// ("NAME=value" entries, as os.Environ returns them) that look like
// settings of the command of fs but match none of its flags, such as a
// misspelt MODELGATE_BUCKET. The healthcheck's variables, which share the
// gateway's environment, are left to the healthcheck, and the
// healthcheck looks at its own prefix only.
func unknownEnv(fs *flag.FlagSet, environ []string) []string {
	known := knownEnv(fs)
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		healthcheck := strings.HasPrefix(name, healthcheckEnvPrefix)
		ours := strings.HasPrefix(name, envPrefix) &&
			healthcheck == (fs.Name() == "healthcheck")
		if ours && !slices.Contains(known, name) {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	return slices.Compact(unknown)
}

// printUnknownEnv prints one warning to w that lists the MODELGATE_
// variables of environ that set no flag of fs, without their values,
// which may be secret.
func printUnknownEnv(w io.Writer, fs *flag.FlagSet, environ []string) {
	command, _, _ := strings.Cut(fs.Name(), " ")
	if names := unknownEnv(fs, environ); len(names) > 0 {
		fmt.Fprintf(w, "modelgate %s: warning: ignoring environment "+
			"variables that no flag of this command reads: %s; they are "+
			"misspelt or belong to another command\n",
			command, strings.Join(names, ", "))
	}
}

// exitCodeFor prints a parse or validation error of the named command
// with a pointer to its help, and returns the exit code: 0 after --help,
// which parseFlags has printed, and 2 otherwise.
func exitCodeFor(stderr io.Writer, command string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "modelgate %s: %v\nrun modelgate %s --help for "+
		"the flags\n", command, err, command)
	return 2
}
