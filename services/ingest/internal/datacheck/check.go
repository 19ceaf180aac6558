package datacheck

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/services/ingest/internal/jsonscan"
)

// Checker checks a stream's event data: Check answers exactly what the
// stream's Check answers, faster for the data the compiled schema proves
// valid. Safe for concurrent use.
type Checker struct {
	stream *streamspec.Stream
	root   *node // nil: every check is the stream's own
}

// New compiles s's schema. A schema with a keyword the compiler does not
// know still gets a Checker; the parts of it that data reaches through
// such a keyword are checked by the library.
func New(s *streamspec.Stream) *Checker {
	c := &Checker{stream: s}
	doc, err := parseSchema(s.Schema)
	if err != nil { // streamspec compiled it; not expected
		return c
	}
	root := compile(doc, true)
	if !mark(root, pointerTokens(s.EntityKey), captureKey) {
		return c
	}
	if s.EventTime != "" && !mark(root, pointerTokens(s.EventTime), captureTime) {
		return c
	}
	c.root = root
	return c
}

// Stream is the stream c checks for.
func (c *Checker) Stream() *streamspec.Stream { return c.stream }

// Compiled reports whether c has a compiled schema (else every check is
// the library's).
func (c *Checker) Compiled() bool { return c.root != nil }

// Check is streamspec.Stream.Check: the same fields for valid data, the
// same error otherwise.
func (c *Checker) Check(data []byte) (streamspec.Fields, error) {
	if f, ok := c.fast(data, false); ok {
		return f, nil
	}
	return c.stream.Check(data)
}

// CheckValidJSON is Check of data that the caller knows to be one valid
// JSON document (a reader before checked it, as ingest's batch splitter
// does): the compiled check then finds the ends of strings without
// looking for what valid JSON cannot hold, several times faster. Data that
// is not valid JSON must go to Check: CheckValidJSON may take some of it
// for valid.
func (c *Checker) CheckValidJSON(data []byte) (streamspec.Fields, error) {
	if f, ok := c.fast(data, true); ok {
		return f, nil
	}
	return c.stream.Check(data)
}

// Fast is the compiled check alone: ok is true only when data is valid and
// its fields are f — what the stream's Check returns then. ok is false
// for invalid data and for data the compiled schema cannot decide (a
// keyword it does not compile, a number or string it does not read
// exactly); Check then asks the library.
func (c *Checker) Fast(data []byte) (f streamspec.Fields, ok bool) { return c.fast(data, false) }

// fast is Fast; validJSON says data is known to be valid JSON.
func (c *Checker) fast(data []byte, validJSON bool) (f streamspec.Fields, ok bool) {
	if c.root == nil {
		return f, false
	}
	s := scanner{b: data, validJSON: validJSON}
	if !s.value(c.root, 0) {
		return f, false
	}
	s.space()
	if s.i != len(s.b) {
		return f, false
	}
	switch {
	case s.key.kind == kindString && s.key.text != "":
		f.EntityKey = strings.Clone(s.key.text)
	case s.key.kind == kindNumber:
		if _, err := strconv.ParseInt(s.key.text, 10, 64); err != nil {
			return f, false
		}
		f.EntityKey = strings.Clone(s.key.text)
	default:
		return f, false
	}
	if c.stream.EventTime != "" {
		if s.time.kind != kindString {
			return f, false
		}
		t, err := time.Parse(time.RFC3339Nano, s.time.text)
		if err != nil {
			return f, false
		}
		f.EventTime = t
	}
	return f, true
}

const (
	captureKey  uint8 = 1
	captureTime uint8 = 2
)

// pointerTokens splits a JSON pointer into its unescaped tokens, as
// streamspec does.
func pointerTokens(p string) []string {
	if p == "" {
		return nil
	}
	out := strings.Split(p, "/")[1:]
	for i, t := range out {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return out
}

type kind uint8

const (
	kindNone kind = iota
	kindString
	kindNumber
	kindOther
)

// captured is the value at a captured pointer: a string's text or a
// number's literal, sharing the data's memory.
type captured struct {
	kind kind
	text string
}

// maxDepth bounds nesting; deeper data is left to the library.
const maxDepth = 1000

// scanner reads one document and checks it against compiled nodes in the
// same pass, as strictly as jsondoc.Parse reads it: any value that Parse
// would refuse (a key twice, a number float64 cannot hold) or that the
// scanner does not read exactly makes it stop with false.
type scanner struct {
	b         []byte
	i         int
	key, time captured
	// validJSON says b is known to be valid JSON: str then finds a
	// string's end with jsonscan.ClosingQuote.
	validJSON bool
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) value(n *node, depth int) bool {
	// An enum decides strings only: other members are left to the library.
	if n.unsupported || n.never || depth > maxDepth {
		return false
	}
	s.space()
	if s.i >= len(s.b) {
		return false
	}
	var got captured
	switch c := s.b[s.i]; {
	case c == '{':
		if !n.allows(tObject) || n.enum != nil || !s.object(n, depth) {
			return false
		}
		got.kind = kindOther
	case c == '[':
		if !n.allows(tArray) || n.enum != nil || !s.array(n, depth) {
			return false
		}
		got.kind = kindOther
	case c == '"':
		str, ok := s.str()
		if !ok || !n.checkString(str) {
			return false
		}
		got = captured{kind: kindString, text: str}
	case c == '-' || (c >= '0' && c <= '9'):
		lit, ok := s.number()
		if !ok || !n.checkNumber(lit) {
			return false
		}
		got = captured{kind: kindNumber, text: alias(lit)}
	case c == 't' || c == 'f' || c == 'n':
		word, t := "null", tNull
		switch c {
		case 't':
			word, t = "true", tBoolean
		case 'f':
			word, t = "false", tBoolean
		}
		if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
			return false
		}
		s.i += len(word)
		if !n.allows(t) || n.enum != nil {
			return false
		}
		got.kind = kindOther
	default:
		return false
	}
	if n.capture&captureKey != 0 {
		s.key = got
	}
	if n.capture&captureTime != 0 {
		s.time = got
	}
	return true
}

// prop returns the index of the property named key: for a few properties
// by comparing the names (lengths first), cheaper than hashing the key.
func (n *node) prop(key string) (int, bool) {
	if len(n.names) <= 8 {
		for i, name := range n.names {
			if name == key {
				return i, true
			}
		}
		return 0, false
	}
	i, ok := n.props[key]
	return i, ok
}

func (n *node) allows(t types) bool { return n.types == 0 || n.types&t != 0 }

func (s *scanner) object(n *node, depth int) bool {
	s.i++ // {
	var seen uint64
	var few [8]string
	extra := few[:0] // keys not in properties, for duplicates
	var many map[string]bool
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return seen&n.required == n.required
	}
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		key, ok := s.str()
		if !ok {
			return false
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		child := n.additional
		if idx, ok := n.prop(key); ok {
			if seen&(1<<idx) != 0 {
				return false
			}
			seen |= 1 << idx
			child = n.children[idx]
		} else {
			if n.noExtra {
				return false
			}
			switch {
			case many != nil:
				if many[key] {
					return false
				}
				many[key] = true
			case len(extra) < 32:
				for _, k := range extra {
					if k == key {
						return false
					}
				}
				extra = append(extra, key)
			default:
				many = make(map[string]bool, 2*len(extra))
				for _, k := range extra {
					many[k] = true
				}
				if many[key] {
					return false
				}
				many[key] = true
			}
			if child == nil {
				child = anything
			}
		}
		if !s.value(child, depth+1) {
			return false
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return seen&n.required == n.required
		default:
			return false
		}
	}
}

func (s *scanner) array(n *node, depth int) bool {
	s.i++ // [
	items := n.items
	if items == nil {
		items = anything
	}
	count := 0
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
	} else {
		for {
			if !s.value(items, depth+1) {
				return false
			}
			count++
			s.space()
			if s.i >= len(s.b) {
				return false
			}
			if s.b[s.i] == ']' {
				s.i++
				break
			}
			if s.b[s.i] != ',' {
				return false
			}
			s.i++
		}
	}
	return (n.minItems < 0 || count >= n.minItems) && (n.maxItems < 0 || count <= n.maxItems)
}

// str reads the string at s.b[s.i]: without escapes and valid UTF-8 it
// shares the data's memory, else encoding/json decodes it, as jsondoc.Parse
// does.
func (s *scanner) str() (string, bool) {
	start := s.i
	if s.validJSON {
		end := jsonscan.ClosingQuote(s.b, start+1)
		if end >= len(s.b) {
			return "", false
		}
		s.i = end + 1
		raw := s.b[start+1 : end]
		if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
			return alias(raw), true
		}
		var v string
		if json.Unmarshal(s.b[start:s.i], &v) != nil {
			return "", false
		}
		return v, true
	}
	plain := true
	for s.i++; s.i < len(s.b); s.i++ {
		if s.i = jsonscan.SkipPlain(s.b, s.i); s.i >= len(s.b) {
			break
		}
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			raw := s.b[start+1 : s.i-1]
			if plain && utf8.Valid(raw) {
				return alias(raw), true
			}
			var v string
			if json.Unmarshal(s.b[start:s.i], &v) != nil {
				return "", false
			}
			return v, true
		case c == '\\':
			plain = false
			s.i++
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

// number reads a number literal; one with an exponent or longer than 300
// characters is left to the library (jsondoc.Parse checks its range).
func (s *scanner) number() ([]byte, bool) {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	switch {
	case s.i >= len(s.b):
		return nil, false
	case s.b[s.i] == '0':
		s.i++
	case s.b[s.i] >= '1' && s.b[s.i] <= '9':
		digits()
	default:
		return nil, false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return nil, false
	}
	lit := s.b[start:s.i]
	return lit, len(lit) <= 300
}

func (n *node) checkString(v string) bool {
	if !n.allows(tString) {
		return false
	}
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCountInString(v)
		if (n.minLen >= 0 && l < n.minLen) || (n.maxLen >= 0 && l > n.maxLen) {
			return false
		}
	}
	if n.enum != nil && !n.enum[v] {
		return false
	}
	if n.dateTime && !dateTime(v) {
		return false
	}
	return n.pattern == nil || n.pattern.MatchString(v)
}

// checkNumber checks a literal without exponent. Bounds are compared in
// float64: rounding keeps the order, so a strict inequality of the
// rounded values is one of the exact values; equal rounded values decide
// only when both are integers float64 holds exactly.
func (n *node) checkNumber(lit []byte) bool {
	integer := true
	for _, c := range lit {
		if c == '.' {
			integer = false
			break
		}
	}
	switch {
	case n.types == 0:
	case integer && n.types&(tNumber|tInteger) == 0:
		return false
	case !integer && n.types&tNumber == 0: // 1.0 is an integer: undecided
		return false
	}
	if n.enum != nil {
		return false
	}
	if !n.min.set && !n.max.set && !n.exMin.set && !n.exMax.set {
		return true
	}
	f, err := strconv.ParseFloat(alias(lit), 64)
	if err != nil {
		return false
	}
	exact := integer && len(lit) <= 15
	cmp := func(b bound) (int, bool) {
		switch {
		case f < b.v:
			return -1, true
		case f > b.v:
			return 1, true
		case exact && b.exact:
			return 0, true
		}
		return 0, false
	}
	if n.min.set {
		if c, ok := cmp(n.min); !ok || c < 0 {
			return false
		}
	}
	if n.max.set {
		if c, ok := cmp(n.max); !ok || c > 0 {
			return false
		}
	}
	if n.exMin.set {
		if c, ok := cmp(n.exMin); !ok || c <= 0 {
			return false
		}
	}
	if n.exMax.set {
		if c, ok := cmp(n.exMax); !ok || c >= 0 {
			return false
		}
	}
	return true
}

// dateTime accepts the RFC 3339 date-times the library's date-time format
// accepts, in their common spelling only: digits where digits go, no leap
// second. Anything else is left to the library.
func dateTime(v string) bool {
	if len(v) < 20 || v[4] != '-' || v[7] != '-' || (v[10] != 'T' && v[10] != 't') || v[13] != ':' || v[16] != ':' {
		return false
	}
	num := func(s string) int {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return -1
			}
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	year, month, day := num(v[0:4]), num(v[5:7]), num(v[8:10])
	h, m, sec := num(v[11:13]), num(v[14:16]), num(v[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59 {
		return false
	}
	rest := v[19:]
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 {
			return false
		}
		rest = rest[i:]
	}
	if rest == "Z" || rest == "z" {
		return true
	}
	if len(rest) != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' {
		return false
	}
	zh, zm := num(rest[1:3]), num(rest[4:6])
	return zh >= 0 && zh <= 23 && zm >= 0 && zm <= 59
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// alias returns b's bytes as a string without copying them; what Fast
// keeps is cloned.
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
