package server

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/catalog"
)

// command is a copyable command or code snippet on a model's page.
type command struct {
	ID    string // unique within the page, for the heading's id
	Title string
	Text  string
	Note  string
}

// modelCommands returns the commands that download model m from the
// gateway at base. Names from the bucket are quoted for each language,
// so that any model id or file name yields a valid command.
func modelCommands(base string, m *catalog.Model) []command {
	var cmds []command
	if m.NumFiles() > 0 {
		f := m.FileAt(0)
		cmds = append(cmds, command{
			ID:    "curl",
			Title: "curl, one file",
			Text: "curl -L -O -J " +
				shellQuote(base+resolveHref(m, f)),
			Note: "Downloads " + f.Path + " under its own name; use " +
				"the link of another file in the table the same way.",
		})
	}
	cmds = append(cmds,
		command{
			ID:    "hf",
			Title: "Hugging Face CLI",
			Text: "HF_ENDPOINT=" + shellQuote(base) + " hf download " +
				shellQuote(m.ID),
			Note: "huggingface_hub 0.34 and later install the hf " +
				"command; older versions call it huggingface-cli.",
		},
		command{
			ID:    "python",
			Title: "Python",
			Text: "from huggingface_hub import snapshot_download\n\n" +
				"path = snapshot_download(\n" +
				"    repo_id=" + quoteString(m.ID) + ",\n" +
				"    endpoint=" + quoteString(base) + ",\n" +
				")\nprint(path)",
		},
		command{
			ID:    "javascript",
			Title: "JavaScript (@huggingface/hub)",
			Text: "import { snapshotDownload } from \"@huggingface/hub\";\n\n" +
				"const dir = await snapshotDownload({\n" +
				"  repo: " + quoteString(m.ID) + ",\n" +
				"  hubUrl: " + quoteString(base) + ",\n" +
				"});\nconsole.log(dir);",
			Note: "snapshotDownload runs in Node.js; in a browser, " +
				"downloadFile takes the same hubUrl.",
		},
	)
	return cmds
}

// shellQuote quotes s for a POSIX shell. Strings made only of characters
// that no shell treats specially are returned as they are.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz"+
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteString returns s as a double-quoted string literal that is valid
// in both Python and JavaScript: a JSON string.
func quoteString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(buf.String(), "\n")
}

// humanBytes formats n bytes with a decimal (SI) unit and three
// significant digits, such as "512 B", "1.50 kB" or "13.4 GB".
func humanBytes(n int64) string {
	const units = "kMGTPE"
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	i := -1
	for v >= 999.5 && i < len(units)-1 {
		v /= 1000
		i++
	}
	prec := 2
	switch {
	case v >= 99.95:
		prec = 0
	case v >= 9.995:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " +
		units[i:i+1] + "B"
}

// formatCount formats a count, n >= 0, with commas between groups of
// three digits.
func formatCount(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// pluralize returns the count and the noun, with an "s" unless the count
// is one, such as "1 model" or "1,000 models".
func pluralize(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return formatCount(n) + " " + noun + "s"
}
