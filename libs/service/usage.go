package service

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// printUsage writes the -h text: every flag with its type, environment
// variable, description and default.
func printUsage(w io.Writer, name string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s [flags]\n\n", name)
	fmt.Fprintf(w, "Every flag can also be set with the environment variable named beside it;\na flag on the command line wins over the variable.\n\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		head := "  -" + f.Name
		if typ != "" {
			head += " " + typ
		}
		fmt.Fprintf(w, "%s  (%s)\n", head, EnvName(f.Name))
		if !isZeroDefault(f.DefValue) {
			if typ == "string" {
				usage += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		fmt.Fprintf(w, "    \t%s\n", strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

func isZeroDefault(v string) bool {
	switch v {
	case "", "0", "false", "0s":
		return true
	}
	return false
}

// MarkdownFlags returns a Markdown table of the flags in fs: flag,
// environment variable, default and description, sorted by flag name. The
// services' READMEs hold it, checked by a test so that it cannot drift.
func MarkdownFlags(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString("| Flag | Environment variable | Default | Description |\n")
	b.WriteString("|---|---|---|---|\n")
	cell := strings.NewReplacer("|", `\|`, "\n", " ")
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" {
			def = "`" + f.DefValue + "`"
		}
		_, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "| `-%s` | `%s` | %s | %s |\n", f.Name, EnvName(f.Name), def, cell.Replace(usage))
	})
	return b.String()
}

// flagWord finds words in an error message that may be flag names.
var flagWord = regexp.MustCompile(`[a-z0-9][a-z0-9._-]*[a-z0-9]`)

// describeConfigError turns a flag-parsing or validation error into one
// line, and names the flag and environment variable of every flag the error
// mentions where the message does not already, so that the operator knows
// what to change whichever way they set it.
func describeConfigError(fs *flag.FlagSet, err error) string {
	var parts []string
	for _, e := range leafErrors(err) {
		msg := strings.Join(strings.Split(strings.TrimSpace(e.Error()), "\n"), "; ")
		var notes []string
		seen := map[string]bool{}
		for _, word := range flagWord.FindAllString(msg, -1) {
			f := fs.Lookup(word)
			if seen[word] || f == nil {
				continue
			}
			seen[word] = true
			if hint := typeHint(f); hint != "" && strings.HasSuffix(msg, ": parse error") {
				msg = strings.TrimSuffix(msg, "parse error") + hint
			}
			var note []string
			if !strings.Contains(msg, "-"+word) {
				note = append(note, "flag -"+word)
			}
			if env := EnvName(word); !strings.Contains(msg, env) {
				note = append(note, "env "+env)
			}
			if len(note) > 0 {
				notes = append(notes, strings.Join(note, ", "))
			}
		}
		if len(notes) > 0 {
			msg += " (" + strings.Join(notes, "; ") + ")"
		}
		parts = append(parts, msg)
	}
	return strings.Join(parts, "; ")
}

// typeHint says what a flag's value should look like, to replace the flag
// package's bare "parse error".
func typeHint(f *flag.Flag) string {
	typ, _ := flag.UnquoteUsage(f)
	switch typ {
	case "duration":
		return "not a duration (such as 500ms, 30s or 5m)"
	case "int", "uint":
		return "not an integer"
	case "float":
		return "not a number"
	case "":
		return "not a boolean (true or false)"
	}
	return ""
}

// leafErrors flattens errors joined with errors.Join.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

var errUnexpectedArgs = errors.New("unexpected arguments (every setting is a -flag)")
