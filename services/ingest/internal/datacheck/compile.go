package datacheck

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"

	"github.com/tributary-ml/tributary/libs/jsondoc"
)

// types is a set of JSON Schema types.
type types uint8

const (
	tNull types = 1 << iota
	tBoolean
	tObject
	tArray
	tNumber
	tInteger
	tString
)

var typeNames = map[string]types{
	"null": tNull, "boolean": tBoolean, "object": tObject, "array": tArray,
	"number": tNumber, "integer": tInteger, "string": tString,
}

// bound is a numeric bound of a schema: its float64 value and, when it is
// an integer float64 holds exactly, that it is one (equality with an
// integer literal is then decided exactly).
type bound struct {
	set   bool
	v     float64
	exact bool
}

// node is one compiled (sub)schema. A keyword the compiler does not know
// makes the node unsupported: reaching it with a value ends the fast check
// (the library then decides).
type node struct {
	unsupported bool
	never       bool  // the false schema
	types       types // 0: any
	// strings
	minLen, maxLen int // -1: none
	pattern        *regexp.Regexp
	dateTime       bool
	enum           map[string]bool // its string members (a value of another type is left to the library); nil: no enum
	// numbers
	min, max, exMin, exMax bound
	// objects
	props      map[string]int // name -> index in children
	names      []string       // the properties' names, index-aligned with children
	children   []*node
	required   uint64 // bits of children
	additional *node  // nil: allowed, anything
	noExtra    bool   // additionalProperties false
	// arrays
	items              *node // nil: anything
	minItems, maxItems int   // -1: none
	// capture marks the node at the entity key's (1) and event time's (2)
	// pointer.
	capture uint8
}

// anything is the empty schema: every value passes (it is still read
// strictly).
var anything = &node{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1}

const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// annotations are keywords that assert nothing.
var annotations = map[string]bool{
	"title": true, "description": true, "$comment": true, "examples": true, "default": true,
	"deprecated": true, "readOnly": true, "writeOnly": true, "$id": true, "$defs": true,
}

// compile builds the node of schema doc (a jsondoc document); root tells
// whether $schema may appear.
func compile(doc any, root bool) *node {
	switch v := doc.(type) {
	case bool:
		if v {
			return anything
		}
		return &node{never: true}
	case map[string]any:
		return compileObject(v, root)
	}
	return &node{unsupported: true}
}

func compileObject(m map[string]any, root bool) *node {
	n := &node{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1}
	bad := func() *node { return &node{unsupported: true} }
	var required []any
	for k, v := range m {
		switch {
		case annotations[k]:
		case k == "$schema":
			if s, _ := v.(string); !root || (s != draft2020 && s != draft2020+"#") {
				return bad()
			}
		case k == "type":
			switch t := v.(type) {
			case string:
				if typeNames[t] == 0 {
					return bad()
				}
				n.types = typeNames[t]
			case []any:
				for _, e := range t {
					s, _ := e.(string)
					if typeNames[s] == 0 {
						return bad()
					}
					n.types |= typeNames[s]
				}
				if n.types == 0 {
					return bad()
				}
			default:
				return bad()
			}
		case k == "minLength" || k == "maxLength" || k == "minItems" || k == "maxItems":
			i, ok := count(v)
			if !ok {
				return bad()
			}
			*map[string]*int{"minLength": &n.minLen, "maxLength": &n.maxLen, "minItems": &n.minItems, "maxItems": &n.maxItems}[k] = i
		case k == "pattern":
			s, ok := v.(string)
			if !ok {
				return bad()
			}
			re, err := regexp.Compile(s) // the library's default engine
			if err != nil {
				return bad()
			}
			n.pattern = re
		case k == "format":
			if v != "date-time" {
				return bad()
			}
			n.dateTime = true
		case k == "enum":
			members, ok := v.([]any)
			if !ok {
				return bad()
			}
			n.enum = map[string]bool{}
			for _, e := range members {
				if s, ok := e.(string); ok {
					n.enum[s] = true
				}
			}
		case k == "minimum" || k == "maximum" || k == "exclusiveMinimum" || k == "exclusiveMaximum":
			b, ok := boundOf(v)
			if !ok {
				return bad()
			}
			*map[string]*bound{"minimum": &n.min, "maximum": &n.max, "exclusiveMinimum": &n.exMin, "exclusiveMaximum": &n.exMax}[k] = b
		case k == "properties":
			props, ok := v.(map[string]any)
			if !ok || len(props) > 64 {
				return bad()
			}
			n.props = make(map[string]int, len(props))
			for name, sub := range props {
				n.props[name] = len(n.children)
				n.names = append(n.names, name)
				n.children = append(n.children, compile(sub, false))
			}
		case k == "required":
			r, ok := v.([]any)
			if !ok {
				return bad()
			}
			required = r
		case k == "additionalProperties":
			if b, ok := v.(bool); ok && !b {
				n.noExtra = true
			} else {
				n.additional = compile(v, false)
			}
		case k == "items":
			n.items = compile(v, false)
		default:
			return bad()
		}
	}
	for _, r := range required {
		name, _ := r.(string)
		i, ok := n.props[name]
		if !ok { // only in additional properties: not compiled
			return bad()
		}
		n.required |= 1 << i
	}
	return n
}

func count(v any) (int, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(string(num))
	return i, err == nil && i >= 0
}

func boundOf(v any) (bound, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return bound{}, false
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || math.IsInf(f, 0) {
		return bound{}, false
	}
	return bound{set: true, v: f, exact: f == math.Trunc(f) && math.Abs(f) < 1<<53}, true
}

// mark sets the capture bit on the node at path, through declared
// properties only; false when the path leaves them.
func mark(n *node, path []string, bit uint8) bool {
	for _, tok := range path {
		if n.unsupported || n.props == nil {
			return false
		}
		i, ok := n.props[tok]
		if !ok {
			return false
		}
		if n.children[i] == anything { // shared: give it a node of its own
			n.children[i] = &node{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1}
		}
		n = n.children[i]
	}
	if len(path) == 0 || n.never || n.unsupported {
		return false
	}
	n.capture |= bit
	return true
}

// parseSchema decodes a stream's schema as streamspec does, into memory of
// its own (the document shares what it parses).
func parseSchema(b []byte) (any, error) { return jsondoc.Parse(bytes.Clone(b)) }
