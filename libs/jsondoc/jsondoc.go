package jsondoc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Errors of a well-formed document that Parse refuses, wrapped in *Error.
var (
	ErrDuplicateKey = errors.New("duplicate key")
	ErrNumberRange  = errors.New("number out of range")
)

// MaxNumberLen is the longest number literal Parse accepts: longer than any
// float64 needs (the exact decimal expansion of the smallest one has 751
// significant digits), short enough that exact arithmetic on it is cheap.
const MaxNumberLen = 1024

// Error reports a value of a well-formed document that Parse refuses.
type Error struct {
	// Pointer is the JSON pointer (RFC 6901) of the value: the duplicate
	// key's member, or the number; "" for the document itself.
	Pointer string
	// Err is ErrDuplicateKey or ErrNumberRange.
	Err error
	// Detail says what is wrong in English.
	Detail string
}

func (e *Error) Error() string {
	p := e.Pointer
	if p == "" {
		p = "/"
	}
	return p + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// Parse decodes one JSON document, refusing trailing data, duplicate keys
// and numbers float64 cannot hold (see the package doc). It reads the bytes
// once and copies only strings with escapes: event data is decoded for
// every event ingested, and encoding/json's buffering cost a third of that
// work. The other strings and numbers share b's memory (see alias): the
// document must not outlive b's contents, nor be used after b changes.
// Syntax errors say where; a refused value is a *Error.
func Parse(b []byte) (any, error) {
	v, err := parse(b, false)
	if _, refused := err.(*Error); refused {
		// A document that is not well formed is that first: its syntax
		// error wins over a refused value before it.
		if _, serr := parse(b, true); serr != nil {
			return nil, serr
		}
	}
	return v, err
}

// parse is Parse; lax skips the checks of well-formed values.
func parse(b []byte, lax bool) (any, error) {
	p := parser{b: b, lax: lax}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.b) {
		return nil, p.errorf("data after the JSON document")
	}
	return v, nil
}

const maxDepth = 10000 // as encoding/json

type parser struct {
	b   []byte
	i   int
	lax bool // no duplicate-key or range checks
}

var errEnd = errors.New("unexpected end of JSON input")

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	p.space()
	if p.i >= len(p.b) {
		return nil, errEnd
	}
	if depth > maxDepth {
		return nil, p.errorf("exceeded max depth")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	default:
		return nil, p.errorf("invalid character %q looking for beginning of value", c)
	}
}

func (p *parser) literal(word string) error {
	if len(p.b)-p.i < len(word) {
		return errEnd
	}
	if string(p.b[p.i:p.i+len(word)]) != word {
		return p.errorf("invalid literal, want %s", word)
	}
	p.i += len(word)
	return nil
}

func (p *parser) object(depth int) (any, error) {
	p.i++ // {
	m := map[string]any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) {
			return nil, errEnd
		}
		if p.b[p.i] != '"' {
			return nil, p.errorf("invalid character %q looking for beginning of object key string", p.b[p.i])
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) {
			return nil, errEnd
		}
		if p.b[p.i] != ':' {
			return nil, p.errorf("invalid character %q after object key", p.b[p.i])
		}
		p.i++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, under(err, k)
		}
		if _, dup := m[k]; dup && !p.lax {
			return nil, &Error{Pointer: "/" + escape(k), Err: ErrDuplicateKey, Detail: fmt.Sprintf("key %q appears more than once in its object", cut(k))}
		}
		m[k] = v
		p.space()
		if p.i >= len(p.b) {
			return nil, errEnd
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, nil
		default:
			return nil, p.errorf("invalid character %q after object key:value pair", p.b[p.i])
		}
	}
}

func (p *parser) array(depth int) (any, error) {
	p.i++ // [
	a := []any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, under(err, strconv.Itoa(len(a)))
		}
		a = append(a, v)
		p.space()
		if p.i >= len(p.b) {
			return nil, errEnd
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, nil
		default:
			return nil, p.errorf("invalid character %q after array element", p.b[p.i])
		}
	}
}

// str reads a string; one with escapes or bytes that are not UTF-8 is
// handed to encoding/json, which decodes them (invalid bytes become U+FFFD).
func (p *parser) str() (string, error) {
	start := p.i
	p.i++ // "
	plain := true
	for {
		if p.i >= len(p.b) {
			return "", errEnd
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			raw := p.b[start+1 : p.i-1]
			if plain && utf8.Valid(raw) {
				return alias(raw), nil
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				return "", fmt.Errorf("offset %d: %w", start, err)
			}
			return s, nil
		case c == '\\':
			plain = false
			p.i += 2
		case c < 0x20:
			return "", p.errorf("invalid character %q in string literal", c)
		default:
			p.i++
		}
	}
}

// number checks the JSON number grammar and keeps the literal.
func (p *parser) number() (any, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i >= len(p.b) {
		return nil, errEnd
	}
	switch {
	case p.b[p.i] == '0':
		p.i++
	case p.b[p.i] >= '1' && p.b[p.i] <= '9':
		digits()
	default:
		return nil, p.errorf("invalid character %q in numeric literal", p.b[p.i])
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			if p.i >= len(p.b) {
				return nil, errEnd
			}
			return nil, p.errorf("invalid character %q after decimal point in numeric literal", p.b[p.i])
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			if p.i >= len(p.b) {
				return nil, errEnd
			}
			return nil, p.errorf("invalid character %q in exponent of numeric literal", p.b[p.i])
		}
	}
	lit := p.b[start:p.i]
	if detail := checkRange(lit); detail != "" && !p.lax {
		return nil, &Error{Err: ErrNumberRange, Detail: detail}
	}
	return json.Number(alias(lit)), nil
}

// checkRange says why a number literal of valid grammar is refused, or "".
func checkRange(lit []byte) string {
	exp := -1
	for i, c := range lit {
		if c == 'e' || c == 'E' {
			exp = i
			break
		}
	}
	if exp < 0 && len(lit) <= 300 {
		return "" // below 10^300 in magnitude; not below 10^-300 unless zero
	}
	if len(lit) > MaxNumberLen {
		return fmt.Sprintf("number of %d characters, more than %d", len(lit), MaxNumberLen)
	}
	show := string(lit)
	if len(show) > 40 {
		show = show[:40] + "…"
	}
	if exp >= 0 {
		digits := strings.TrimLeft(strings.TrimLeft(string(lit[exp+1:]), "+-"), "0")
		if len(digits) > 4 {
			return fmt.Sprintf("number %s: exponent beyond ±9999", show)
		}
	}
	f, err := strconv.ParseFloat(alias(lit), 64)
	if err != nil {
		return fmt.Sprintf("number %s is beyond float64's range (about ±1.8e308)", show)
	}
	if f == 0 && nonZero(lit) {
		return fmt.Sprintf("number %s is non-zero but below float64's smallest (about 4.9e-324)", show)
	}
	return ""
}

// nonZero reports whether the mantissa of a number literal has a digit
// other than 0.
func nonZero(lit []byte) bool {
	for _, c := range lit {
		switch {
		case c == 'e' || c == 'E':
			return false
		case c >= '1' && c <= '9':
			return true
		}
	}
	return false
}

// under prefixes the pointer of a refused value with the key or index of
// its parent.
func under(err error, token string) error {
	var e *Error
	if errors.As(err, &e) {
		e.Pointer = "/" + escape(token) + e.Pointer
	}
	return err
}

var escaper = strings.NewReplacer("~", "~0", "/", "~1")

func escape(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return escaper.Replace(s)
}

// cut shortens s for a message.
func cut(s string) string {
	if len(s) <= 64 {
		return s
	}
	i := 64
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// alias returns b's bytes as a string without copying them. A caller's
// document lives only while it validates, and the strings it keeps are
// cloned; an event's data is copied twice less this way (its strings are
// most of its bytes).
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
