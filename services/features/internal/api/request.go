package api

// parseRequest parses the usual form of a Request body without reflection:
// one object with the keys "entities" and "features" (each at most once,
// in either order), each an array of strings of printable ASCII without
// escapes, white space where JSON allows it, and nothing but white space
// after the object. It reports false for anything else, which the caller
// then decodes with encoding/json (and refuses or accepts as before):
// FuzzParseRequest checks that whatever it accepts, encoding/json decodes
// strictly to the same Request.
func parseRequest(b []byte, req *Request) bool { return parseRequestKnown(b, req, nil) }

// parseRequestKnown is parseRequest where known, when not nil, is given the
// text of the "features" array (checked, not yet copied) and may return the
// features of that very text, seen before, to be used instead of a copy;
// nil: the array is parsed.
func parseRequestKnown(b []byte, req *Request, known func(raw []byte) []string) bool {
	p := parser{b: b}
	if !p.byte('{') {
		return false
	}
	var seenE, seenF bool
	p.space()
	if p.peek() == '}' {
		p.i++
		p.space()
		return p.i == len(p.b)
	}
	for {
		key, ok := p.raw()
		if !ok || !p.byte(':') {
			return false
		}
		switch {
		case string(key) == "entities" && !seenE:
			seenE = true
			if !p.strings(&req.Entities) {
				return false
			}
		case string(key) == "features" && !seenF:
			seenF = true
			if !p.features(req, known) {
				return false
			}
		default:
			return false
		}
		p.space()
		switch p.peek() {
		case ',':
			p.i++
			continue
		case '}':
			p.i++
			p.space()
			return p.i == len(p.b)
		}
		return false
	}
}

type parser struct {
	b []byte
	i int
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

func (p *parser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// byte skips white space and then c.
func (p *parser) byte(c byte) bool {
	p.space()
	if p.peek() != c {
		return false
	}
	p.i++
	return true
}

// str reads a string of printable ASCII without escapes.
func (p *parser) str() (string, bool) {
	b, ok := p.raw()
	return string(b), ok
}

// raw reads a string as str does, returning its bytes (not copied).
func (p *parser) raw() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c < 0x20 || c == '\\' || c >= 0x7f:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// features reads the "features" array into req.Features, from known when
// it knows the array's text.
func (p *parser) features(req *Request, known func([]byte) []string) bool {
	if known == nil {
		return p.strings(&req.Features)
	}
	p.space()
	start := p.i
	if !p.skipStrings() {
		return false
	}
	if f := known(p.b[start:p.i]); f != nil {
		req.Features = f
		return true
	}
	q := parser{b: p.b[:p.i], i: start}
	return q.strings(&req.Features)
}

// skipStrings passes over an array of strings as strings reads them,
// copying nothing.
func (p *parser) skipStrings() bool {
	if !p.byte('[') {
		return false
	}
	p.space()
	if p.peek() == ']' {
		p.i++
		return true
	}
	for {
		if !p.skipStr() {
			return false
		}
		p.space()
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return true
		default:
			return false
		}
	}
}

// skipStr passes over a string as str reads it.
func (p *parser) skipStr() bool {
	if !p.byte('"') {
		return false
	}
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch {
		case c == '"':
			return true
		case c < 0x20 || c == '\\' || c >= 0x7f:
			return false
		}
	}
	return false
}

// strings reads an array of such strings ([] is an empty, non-nil slice,
// as encoding/json decodes it).
func (p *parser) strings(dst *[]string) bool {
	if !p.byte('[') {
		return false
	}
	out := make([]string, 0, 4)
	p.space()
	if p.peek() == ']' {
		p.i++
		*dst = out
		return true
	}
	for {
		s, ok := p.str()
		if !ok {
			return false
		}
		out = append(out, s)
		p.space()
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			*dst = out
			return true
		default:
			return false
		}
	}
}
