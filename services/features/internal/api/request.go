package api

// parseRequest parses the usual form of a Request body without reflection:
// one object with the keys "entities" and "features" (each at most once,
// in either order), each an array of strings of printable ASCII without
// escapes, white space where JSON allows it, and nothing but white space
// after the object. It reports false for anything else, which the caller
// then decodes with encoding/json (and refuses or accepts as before):
// FuzzParseRequest checks that whatever it accepts, encoding/json decodes
// strictly to the same Request.
func parseRequest(b []byte, req *Request) bool {
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
		key, ok := p.str()
		if !ok || !p.byte(':') {
			return false
		}
		var dst *[]string
		switch {
		case key == "entities" && !seenE:
			seenE, dst = true, &req.Entities
		case key == "features" && !seenF:
			seenF, dst = true, &req.Features
		default:
			return false
		}
		if !p.strings(dst) {
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
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		case c < 0x20 || c == '\\' || c >= 0x7f:
			return "", false
		}
		p.i++
	}
	return "", false
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
