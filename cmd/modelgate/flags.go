package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
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
// line from its environment variable. Command-line values win.
func parseFlags(fs *flag.FlagSet, args []string,
	getenv func(string) string,
) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	return setFromEnv(fs, getenv)
}

// parseFlagsAndArgs is parseFlags for commands that take arguments: the
// arguments may come before, between or after the flags, and are
// returned in order. A "--" ends the flags.
func parseFlagsAndArgs(fs *flag.FlagSet, args []string,
	getenv func(string) string,
) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	return positional, setFromEnv(fs, getenv)
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
