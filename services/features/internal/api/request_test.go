package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

var requestSeeds = []string{
	`{"entities":["u1"],"features":["uc:clicks_1h","uc:spend_1d"]}`,
	` { "features" : [ "a:b" ] , "entities" : [ "u1" , "u2" ] } ` + "\n",
	`{"entities":[],"features":[]}`,
	`{}`,
	`{"entities":["u1"]}`,
	`{"entities":["u1"],"entities":["u2"]}`,
	`{"entities":["u1"],"features":null}`,
	`{"entities":["u\u0031"]}`,
	`{"entities":["é"]}`,
	`{"entities":["u1"],"extra":1}`,
	`{"Entities":["u1"]}`,
	`{"entities":["u1"],}`,
	`{"entities":["u1",]}`,
	`{"entities":["u1"]} {}`,
	`{"entities":["u1"]}x`,
	`{"entities":[1]}`,
	`{"entities":"u1"}`,
	`[]`,
	``,
	`{"entities":["u1"`,
	"{\"entities\":[\"a\tb\"]}",
}

// FuzzParseRequest: whatever the fast parser accepts, encoding/json decodes
// strictly (unknown fields refused, nothing after the document) to the very
// same Request, nil and empty slices told apart.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast Request
		if !parseRequest(b, &fast) {
			return
		}
		var slow Request
		if err := decodeStrict(b, &slow); err != nil {
			t.Fatalf("%q: fast parser accepts, encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %#v, encoding/json %#v", b, fast, slow)
		}
	})
}

// TestParseRequestFastPath: the usual bodies take the fast path.
func TestParseRequestFastPath(t *testing.T) {
	for _, s := range requestSeeds[:5] {
		var r Request
		if !parseRequest([]byte(s), &r) {
			t.Errorf("%q: not parsed", s)
		}
	}
	for _, s := range requestSeeds[5:] {
		var r Request
		if parseRequest([]byte(s), &r) {
			t.Errorf("%q: parsed by the fast path, should be left to encoding/json", s)
		}
	}
}

// FuzzParseRequestKnown: the text parseRequestKnown gives known is the JSON
// of the very features it parses, so that features remembered by that text
// are the request's; with known it accepts and parses what parseRequest
// does.
func FuzzParseRequestKnown(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var plain Request
		okPlain := parseRequest(b, &plain)
		var seen []byte
		var first Request
		ok := parseRequestKnown(b, &first, func(raw []byte) []string { seen = bytes.Clone(raw); return nil })
		if ok != okPlain || ok && !reflect.DeepEqual(first, plain) {
			t.Fatalf("%q: with known %v %#v, without %v %#v", b, ok, first, okPlain, plain)
		}
		if !ok || seen == nil {
			return
		}
		var fromText []string
		if err := json.Unmarshal(seen, &fromText); err != nil || !reflect.DeepEqual(fromText, plain.Features) {
			t.Fatalf("%q: text %q decodes to %#v (%v), parsed %#v", b, seen, fromText, err, plain.Features)
		}
		remembered := []string{"remembered"}
		var second Request
		if !parseRequestKnown(b, &second, func(raw []byte) []string {
			if bytes.Equal(raw, seen) {
				return remembered
			}
			return nil
		}) {
			t.Fatalf("%q: refused the second time", b)
		}
		if !reflect.DeepEqual(second.Features, remembered) || !reflect.DeepEqual(second.Entities, plain.Entities) {
			t.Fatalf("%q: with the features remembered %#v, want features %v and entities %#v", b, second, remembered, plain.Entities)
		}
	})
}
