package streamspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"
)

// parseJSON decodes one JSON document into the values jsonschema
// validates (map[string]any, []any, string, json.Number, bool, nil), exactly
// as a json.Decoder with UseNumber does, refusing trailing data. It reads
// the bytes once and copies only strings with escapes: event data is decoded
// for every event ingested, and the decoder's buffering cost a third of that
// work. The other strings and numbers share b's memory (see alias): the
// document must not outlive b's contents, nor be used after b changes.
func parseJSON(b []byte) (any, error) {
	p := parser{b: b}
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
	b []byte
	i int
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
			return nil, err
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
			return nil, err
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
	return json.Number(alias(p.b[start:p.i])), nil
}

// alias returns b's bytes as a string without copying them. Check's
// document lives only while Check runs, and the only strings Check returns
// from it are cloned; an event's data is copied twice less this way (its
// strings are most of its bytes).
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
