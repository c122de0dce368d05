package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// This file reads the repository's Dockerfile far enough to rerun its
// build outside Docker: instructions, stages, ARG and ENV values, and
// shell words with variable expansion. It rejects shell syntax it does
// not model (operators, command substitution, heredocs), so a Dockerfile
// change that it cannot follow fails the test instead of being skipped.

// dockerInstruction is one Dockerfile instruction with its continuation
// lines joined.
type dockerInstruction struct {
	keyword string // upper case, such as "RUN"
	args    string // the rest of the instruction
	line    int    // 1-based line where the instruction starts
}

// dockerStage is one FROM and the instructions under it.
type dockerStage struct {
	name   string // the AS name, or ""
	from   string // the image reference as written
	instrs []dockerInstruction
}

// dockerfile is a parsed Dockerfile.
type dockerfile struct {
	globalArgs map[string]string // ARGs before the first FROM
	stages     []dockerStage
}

// parseDockerfile splits text into stages and instructions. Comment
// lines are dropped, also inside continuations, as Docker does.
func parseDockerfile(text string) (*dockerfile, error) {
	df := &dockerfile{globalArgs: make(map[string]string)}
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" &&
			cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\"))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		if err := df.add(cur.String(), start); err != nil {
			return nil, err
		}
		cur.Reset()
	}
	if cur.Len() != 0 {
		return nil, fmt.Errorf("line %d: continuation at end of file", start)
	}
	return df, nil
}

// add appends one joined instruction to df.
func (df *dockerfile) add(text string, line int) error {
	keyword, args, _ := strings.Cut(strings.TrimSpace(text), " ")
	in := dockerInstruction{strings.ToUpper(keyword),
		strings.TrimSpace(args), line}
	if strings.Contains(in.args, "<<") {
		return fmt.Errorf("line %d: heredocs are not supported", line)
	}
	switch {
	case in.keyword == "FROM":
		words := strings.Fields(in.args)
		st := dockerStage{}
		for len(words) > 0 && strings.HasPrefix(words[0], "--") {
			words = words[1:]
		}
		if len(words) == 0 {
			return fmt.Errorf("line %d: FROM without an image", line)
		}
		st.from = words[0]
		if len(words) == 3 && strings.EqualFold(words[1], "AS") {
			st.name = words[2]
		}
		df.stages = append(df.stages, st)
	case len(df.stages) == 0 && in.keyword == "ARG":
		name, value, _ := strings.Cut(in.args, "=")
		df.globalArgs[name] = value
	case len(df.stages) == 0:
		return fmt.Errorf("line %d: %s before FROM", line, in.keyword)
	default:
		st := &df.stages[len(df.stages)-1]
		st.instrs = append(st.instrs, in)
	}
	return nil
}

// stage returns the stage with the given AS name, or the last stage for
// name "".
func (df *dockerfile) stage(name string) (*dockerStage, error) {
	if name == "" && len(df.stages) > 0 {
		return &df.stages[len(df.stages)-1], nil
	}
	for i := range df.stages {
		if df.stages[i].name == name {
			return &df.stages[i], nil
		}
	}
	return nil, fmt.Errorf("no stage named %q", name)
}

// dockerScope is the variables in force at one point of a stage: each
// ARG (build argument or default) and each ENV, in order. Docker passes
// both to RUN as environment variables.
type dockerScope struct {
	vars  map[string]string
	order []string
}

func (s *dockerScope) set(name, value string) {
	if _, ok := s.vars[name]; !ok {
		s.order = append(s.order, name)
	}
	s.vars[name] = value
}

// environ returns the scope as KEY=VALUE entries in declaration order.
func (s *dockerScope) environ() []string {
	var env []string
	for _, name := range s.order {
		env = append(env, name+"="+s.vars[name])
	}
	return env
}

// walk runs fn on each instruction of st with the scope in force at it,
// after applying buildArgs as "docker build --build-arg" would. An ARG
// without a default takes its global default, then its build argument.
func (df *dockerfile) walk(st *dockerStage, buildArgs map[string]string,
	fn func(in dockerInstruction, scope *dockerScope) error,
) error {
	scope := &dockerScope{vars: make(map[string]string)}
	for _, in := range st.instrs {
		var err error
		switch in.keyword {
		case "ARG":
			err = df.declareArg(in, buildArgs, scope)
		case "ENV":
			err = setEnv(in, scope)
		}
		if err != nil {
			return err
		}
		if err := fn(in, scope); err != nil {
			return fmt.Errorf("line %d: %s: %w", in.line, in.keyword, err)
		}
	}
	return nil
}

func (df *dockerfile) declareArg(in dockerInstruction,
	buildArgs map[string]string, scope *dockerScope,
) error {
	name, value, hasDefault := strings.Cut(in.args, "=")
	if strings.ContainsAny(name, " \t") {
		return fmt.Errorf("line %d: one ARG per line is supported", in.line)
	}
	if !hasDefault {
		value = df.globalArgs[name]
	}
	if v, ok := buildArgs[name]; ok {
		value = v
	}
	scope.set(name, value)
	return nil
}

// setEnv applies an "ENV KEY=VALUE ..." instruction to scope.
func setEnv(in dockerInstruction, scope *dockerScope) error {
	words, err := shellWords(in.args, scope.vars)
	if err != nil {
		return fmt.Errorf("line %d: %w", in.line, err)
	}
	for _, w := range words {
		name, value, ok := strings.Cut(w, "=")
		if !ok {
			return fmt.Errorf("line %d: ENV %q is not KEY=VALUE", in.line, w)
		}
		scope.set(name, value)
	}
	return nil
}

// shellWords splits s into words as a POSIX shell would for a simple
// command: single and double quotes, backslash escapes, and $NAME and
// ${NAME} expanded from vars (unset names expand to ""). Operators,
// globs and command substitution return an error.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		inQuote byte
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote == '\'':
			if c == '\'' {
				inQuote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			if inQuote == c {
				inQuote = 0
			} else if inQuote == 0 {
				inQuote, inWord = c, true
			} else {
				cur.WriteByte(c)
			}
		case c == '\\' && i+1 < len(s):
			// Inside double quotes a backslash escapes only $ ` " \.
			escapable := strings.IndexByte("$`\"\\", s[i+1]) >= 0
			if inQuote == '"' && !escapable {
				cur.WriteByte(c)
				continue
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '$':
			n, err := expandVar(s[i:], vars, &cur)
			if err != nil {
				return nil, err
			}
			i += n - 1
			inWord = true
		case c == '`':
			return nil, fmt.Errorf("command substitution in %q", s)
		case inQuote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case inQuote == 0 && strings.IndexByte(";&|<>()*?[", c) >= 0:
			return nil, fmt.Errorf("shell syntax %q in %q is not supported",
				c, s)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inQuote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// expandVar expands the $NAME or ${NAME} at the start of s into dst and
// returns the number of bytes it consumed.
func expandVar(s string, vars map[string]string, dst *strings.Builder) (
	int, error,
) {
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return 0, fmt.Errorf("unterminated ${ in %q", s)
		}
		name := s[2:end]
		if !isShellName(name) {
			return 0, fmt.Errorf("expansion ${%s} is not supported", name)
		}
		dst.WriteString(vars[name])
		return end + 1, nil
	}
	n := 1
	for n < len(s) && isShellNameByte(s[n], n == 1) {
		n++
	}
	if n == 1 {
		return 0, fmt.Errorf("lone $ or $( in %q is not supported", s)
	}
	dst.WriteString(vars[s[1:n]])
	return n, nil
}

func isShellName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isShellNameByte(s[i], i == 0) {
			return false
		}
	}
	return s != ""
}

func isShellNameByte(c byte, first bool) bool {
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(!first && c >= '0' && c <= '9')
}

// execForm parses a JSON array such as ["/bin/app", "serve"].
func execForm(s string) ([]string, error) {
	var argv []string
	if err := json.Unmarshal([]byte(s), &argv); err != nil {
		return nil, fmt.Errorf("%q is not the exec (JSON array) form: %w",
			s, err)
	}
	return argv, nil
}
