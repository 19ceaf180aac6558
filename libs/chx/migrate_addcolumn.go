package chx

import (
	"errors"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// addColumn matches a statement that adds a column, after any leading
// comments: ALTER TABLE db.t ADD COLUMN name ... (the column name is group 1).
var addColumn = regexp.MustCompile("(?is)^ALTER\\s+TABLE\\s+[A-Za-z0-9_.`\"]+\\s+ADD\\s+COLUMN\\s+`?([A-Za-z_][A-Za-z0-9_]*)`?\\s")

// duplicateColumnCode matches the code of the error a duplicate column gives
// in an error's text: 44 (ILLEGAL_COLUMN) on 18.16, 15 (DUPLICATE_COLUMN) on
// current releases.
var duplicateColumnCode = regexp.MustCompile(`(?i)\bcode:\s*(15|44)\b`)

// ColumnAlreadyAdded reports whether err, returned by running stmt, only says
// that stmt was applied before: stmt is an ALTER TABLE with a single ADD
// COLUMN clause and err is ClickHouse's "Cannot add column <name>: column
// with this name already exists" for that very column.
//
// ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so a migration that adds
// a column cannot be written to run twice; Migrate instead takes this error
// of such a statement as success. err may be a *proto.Exception of
// clickhouse-go or any error whose text carries the code (chdb's "Code: 15.
// DB::Exception: ...").
func ColumnAlreadyAdded(stmt string, err error) bool {
	if err == nil {
		return false
	}
	column, ok := singleAddColumn(stmt)
	if !ok {
		return false
	}
	var msg string
	var ex *proto.Exception
	if errors.As(err, &ex) {
		if ex.Code != 15 && ex.Code != 44 {
			return false
		}
		msg = ex.Message
	} else {
		msg = err.Error()
		if !duplicateColumnCode.MatchString(msg) {
			return false
		}
	}
	return strings.Contains(msg, "already exists") &&
		(strings.Contains(msg, "column "+column+":") || strings.Contains(msg, "column `"+column+"`:"))
}

// singleAddColumn returns the column a statement adds when it is an ALTER
// TABLE whose only clause is one ADD COLUMN (no comma outside parentheses,
// quotes and comments).
func singleAddColumn(stmt string) (string, bool) {
	body := skipComments(stmt)
	m := addColumn.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	depth := 0
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			return "", false
		case c == '-' && strings.HasPrefix(body[i:], "--"):
			end := strings.IndexByte(body[i:], '\n')
			if end < 0 {
				return m[1], true
			}
			i += end
		case c == '/' && strings.HasPrefix(body[i:], "/*"):
			end := strings.Index(body[i+2:], "*/")
			if end < 0 {
				return "", false
			}
			i += 2 + end + 1
		case c == '\'' || c == '"' || c == '`':
			end, ok := closingQuote(body, i)
			if !ok {
				return "", false
			}
			i = end
		}
	}
	return m[1], true
}

// skipComments returns s without its leading blanks and comments.
func skipComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n\f\v")
		switch {
		case strings.HasPrefix(s, "--"):
			end := strings.IndexByte(s, '\n')
			if end < 0 {
				return ""
			}
			s = s[end+1:]
		case strings.HasPrefix(s, "/*"):
			end := strings.Index(s[2:], "*/")
			if end < 0 {
				return ""
			}
			s = s[2+end+2:]
		default:
			return s
		}
	}
}
