package main

import (
	"flag"
	"fmt"
	"time"
)

// durationFlag is a flag.Value for a duration that must lie within a
// range. Its errors name the flag and the range, so that a bad value
// from the command line or from the environment is explained the same
// way.
type durationFlag struct {
	value    *time.Duration
	name     string
	min, max time.Duration
	// limits describes the range for messages, such as "1m to 168h".
	limits string
	// set records whether Set was called.
	set bool
}

// durationVar defines a flag for a duration within min..max.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string,
	value, min, max time.Duration, limits, usage string,
) *durationFlag {
	*p = value
	f := &durationFlag{value: p, name: name, min: min, max: max,
		limits: limits}
	fs.Var(f, name, usage+" ("+limits+")")
	return f
}

func (f *durationFlag) String() string {
	if f == nil || f.value == nil {
		return ""
	}
	return f.value.String()
}

func (f *durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("--%s %q is not a duration such as 90s, 30m "+
			"or 2h; the allowed range is %s", f.name, s, f.limits)
	}
	if d < f.min || d > f.max {
		return fmt.Errorf("--%s %v is outside the allowed range: %s",
			f.name, d, f.limits)
	}
	*f.value = d
	f.set = true
	return nil
}
