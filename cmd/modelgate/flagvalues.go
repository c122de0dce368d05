package main

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// invalidValue records the error of the last value that a flag of a set
// rejected. The flag package replaces that error with its own text,
// which names the flag with one dash and may give no more than "parse
// error".
type invalidValue struct {
	err error
}

// checkedValue wraps a flag's value so that a rejected value gets an
// error in plain words. For the flag package's own types the error
// states the expected form, as the value types of this package already
// do.
type checkedValue struct {
	flag.Value
	name    string
	invalid *invalidValue
}

// checkValues wraps every flag of fs in a checkedValue, once, and
// returns the record of the last rejected value.
func checkValues(fs *flag.FlagSet) *invalidValue {
	var invalid *invalidValue
	fs.VisitAll(func(f *flag.Flag) {
		if c, ok := f.Value.(*checkedValue); ok {
			invalid = c.invalid
		}
	})
	if invalid != nil {
		return invalid
	}
	invalid = &invalidValue{}
	fs.VisitAll(func(f *flag.Flag) {
		f.Value = &checkedValue{Value: f.Value, name: f.Name,
			invalid: invalid}
	})
	return invalid
}

// Set sets the wrapped value. Its error states the expected form, and
// the error recorded for the command line also names the flag and value.
func (v *checkedValue) Set(s string) error {
	err := v.Value.Set(s)
	if err == nil {
		return nil
	}
	want := expectedForm(v.Value)
	if want == "" {
		// The value's own error names the flag or the expected form.
		v.invalid.err = err
		if !strings.HasPrefix(err.Error(), "--"+v.name) {
			v.invalid.err = fmt.Errorf("invalid value %q for --%s: %w",
				s, v.name, err)
		}
		return err
	}
	v.invalid.err = fmt.Errorf("invalid value %q for --%s: %s",
		s, v.name, want)
	return fmt.Errorf("%s", want)
}

// IsBoolFlag reports whether the wrapped value is a boolean flag, so
// that the flag package still accepts --flag without a value.
func (v *checkedValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// expectedForm describes the values that a flag of one of the flag
// package's types accepts, or returns "" for other types.
func expectedForm(v flag.Value) string {
	g, ok := v.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case time.Duration:
		return "want a duration such as 20s or 1m"
	case bool:
		return "want true or false"
	case int, int64:
		return "want a whole number"
	case uint, uint64:
		return "want a whole number from 0"
	case float64:
		return "want a number such as 20 or 2.5"
	}
	return ""
}
