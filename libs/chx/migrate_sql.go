package chx

import (
	"fmt"
	"strings"
)

// SplitStatements splits a migration file into its statements, because the
// native protocol takes one statement per query. It splits on ';' outside
// string literals ('...'), quoted identifiers ("..." and `...`) and comments
// (-- to the end of the line, /* ... */, which do not nest), the way
// ClickHouse's lexer reads them: inside quotes a backslash escapes the next
// character and a doubled quote stands for itself. Each statement is returned
// trimmed and without its ';'; pieces holding only blanks and comments are
// dropped. An unterminated literal, identifier or comment is an error that
// names the line where it starts.
func SplitStatements(sql string) ([]string, error) {
	var (
		out   []string
		start int  // byte offset where the current statement starts
		code  bool // the current statement has something besides blanks and comments
	)
	flush := func(end int) {
		if code {
			out = append(out, strings.TrimSpace(sql[start:end]))
		}
		start, code = end+1, false
	}
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == ';':
			flush(i)
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			end := strings.IndexByte(sql[i:], '\n')
			if end < 0 {
				i = len(sql)
				continue
			}
			i += end
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", lineOf(sql, i))
			}
			i += 2 + end + 1
		case c == '\'' || c == '"' || c == '`':
			end, ok := closingQuote(sql, i)
			if !ok {
				return nil, fmt.Errorf("line %d: unterminated %s", lineOf(sql, i), quoteKind(c))
			}
			i, code = end, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
		default:
			code = true
		}
	}
	flush(len(sql))
	return out, nil
}

// closingQuote returns the index of the quote that closes the one at open.
func closingQuote(s string, open int) (int, bool) {
	q := s[open]
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the escaped character, whatever it is
		case q:
			if i+1 < len(s) && s[i+1] == q {
				i++ // a doubled quote is one quote character
				continue
			}
			return i, true
		}
	}
	return 0, false
}

func quoteKind(q byte) string {
	switch q {
	case '\'':
		return "string literal"
	case '"':
		return `"quoted" identifier`
	default:
		return "`quoted` identifier"
	}
}

// lineOf returns the 1-based line number of byte offset i.
func lineOf(s string, i int) int {
	return strings.Count(s[:i], "\n") + 1
}
