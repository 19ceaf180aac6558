package streamspec_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/jsondoc"
	"github.com/tributary-ml/tributary/libs/streamspec"
)

const clicks = `{"name":"clicks","type":"com.example.click.v1","entity_key":"/user/id","event_time":"/at",
 "schema":{"type":"object","required":["user","at"],"properties":{"user":{"type":"object","properties":{"id":{"type":["string","integer"]}}},"at":{"type":"string","format":"date-time"},"n":{"type":"integer","minimum":0}}}}`

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, def, want string }{
		{"not json", `{`, "invalid stream definition"},
		{"unknown field", `{"name":"a","type":"t","entity_key":"/k","schema":{},"extra":1}`, "extra"},
		{"bad name", `{"name":"A.b","type":"t","entity_key":"/k","schema":{}}`, "name:"},
		{"reserved name", `{"name":"labels","type":"t","entity_key":"/k","schema":{}}`, "built-in"},
		{"platform type", `{"name":"a","type":"tributary.x.v1","entity_key":"/k","schema":{}}`, "platform"},
		{"type with space", `{"name":"a","type":"a b","entity_key":"/k","schema":{}}`, "type:"},
		{"no entity key", `{"name":"a","type":"t","schema":{}}`, "entity_key:"},
		{"entity key not pointer", `{"name":"a","type":"t","entity_key":"k","schema":{}}`, "entity_key:"},
		{"event time not pointer", `{"name":"a","type":"t","entity_key":"/k","event_time":"ts","schema":{}}`, "event_time:"},
		{"no schema", `{"name":"a","type":"t","entity_key":"/k"}`, "schema: missing"},
		{"bad schema", `{"name":"a","type":"t","entity_key":"/k","schema":{"type":"nope"}}`, "schema:"},
		{"remote ref", `{"name":"a","type":"t","entity_key":"/k","schema":{"$ref":"https://example.com/s.json"}}`, "schema:"},
		{"another document after", clicks + ` {}`, "data after the definition"},
		{"stray brace after", clicks + `}`, "data after the definition"},
		{"stray bracket after", clicks + "\n]", "data after the definition"},
		{"garbage after", clicks + ` x`, "data after the definition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := streamspec.Parse([]byte(tc.def))
			if !errors.Is(err, streamspec.ErrInvalidDefinition) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want ErrInvalidDefinition naming %q, got %v", tc.want, err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	s, err := streamspec.Parse([]byte(clicks))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streamspec.Parse([]byte(clicks + " \n\t\r\n")); err != nil {
		t.Fatalf("trailing white space: %v", err)
	}
	if s.Topic != "tributary.events.clicks" {
		t.Fatalf("topic %q", s.Topic)
	}
	got, err := s.Check([]byte(`{"user":{"id":"u1"},"at":"2026-11-26T10:00:00.5Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.EntityKey != "u1" || !got.EventTime.Equal(time.Date(2026, 11, 26, 10, 0, 0, 5e8, time.UTC)) {
		t.Fatalf("fields %+v", got)
	}
	got, err = s.Check([]byte(`{"user":{"id":12345678901234},"at":"2026-11-26T10:00:00Z"}`))
	if err != nil || got.EntityKey != "12345678901234" {
		t.Fatalf("integer key: %+v %v", got, err)
	}
	for _, tc := range []struct{ name, data, field, rule string }{
		{"missing required", `{"user":{"id":"u"}}`, "/at", "required"},
		{"bad format", `{"user":{"id":"u"},"at":"yesterday"}`, "/at", "format"},
		{"minimum", `{"user":{"id":"u"},"at":"2026-11-26T10:00:00Z","n":-1}`, "/n", "minimum"},
		{"key missing", `{"user":{},"at":"2026-11-26T10:00:00Z"}`, "/user/id", "entity_key"},
		{"key empty", `{"user":{"id":""},"at":"2026-11-26T10:00:00Z"}`, "/user/id", "entity_key"},
		{"key wrong type", `{"user":{"id":true},"at":"2026-11-26T10:00:00Z"}`, "/user/id", "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Check([]byte(tc.data))
			var se *streamspec.Error
			if !errors.As(err, &se) {
				t.Fatalf("want *Error, got %v", err)
			}
			if se.Violations[0].Field != tc.field || se.Violations[0].Rule != tc.rule {
				t.Fatalf("want %s %s, got %v", tc.field, tc.rule, se.Violations)
			}
		})
	}
	if _, err := s.Check([]byte(`{"user":`)); !errors.Is(err, streamspec.ErrMalformedData) {
		t.Fatalf("malformed: %v", err)
	}
	if _, err := s.Check([]byte(`{} {}`)); !errors.Is(err, streamspec.ErrMalformedData) {
		t.Fatalf("trailing data: %v", err)
	}
}

// TestOneMalformedDataError: streamspec and libs/event report data that is
// not JSON with one error, so errors.Is matches whichever name a caller
// uses; and their violations are one type.
func TestOneMalformedDataError(t *testing.T) {
	s, err := streamspec.Labels()
	if err != nil {
		t.Fatal(err)
	}
	v, err := event.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	_, specErr := s.Check([]byte(`{"stream":`))
	eventErr := v.Validate(event.TypeLabelRecorded, []byte(`{"stream":`))
	for _, err := range []error{specErr, eventErr} {
		if !errors.Is(err, streamspec.ErrMalformedData) || !errors.Is(err, event.ErrMalformedData) || !errors.Is(err, jsondoc.ErrMalformed) {
			t.Errorf("%v: not the one malformed-data error", err)
		}
	}
	_, specErr = s.Check([]byte(`{}`))
	eventErr = v.Validate(event.TypeLabelRecorded, []byte(`{}`))
	var se *streamspec.Error
	var ve *event.ValidationError
	if !errors.As(specErr, &se) || !errors.As(eventErr, &ve) {
		t.Fatalf("violations: %v, %v", specErr, eventErr)
	}
	var same []jsondoc.Violation = se.Violations
	if !slices.Equal(same, ve.Violations) {
		t.Errorf("the same schema, the same data: streamspec %v, event %v", se.Violations, ve.Violations)
	}
}

func TestLabels(t *testing.T) {
	s, err := streamspec.Labels()
	if err != nil {
		t.Fatal(err)
	}
	if s.Topic != "tributary.labels" || s.Type != "tributary.label.recorded.v1" {
		t.Fatalf("%+v", s.Definition)
	}
	f, err := s.Check([]byte(`{"stream":"fraud","entity_key":"acct-1","value":1,"event_time":"2026-11-26T10:00:00Z"}`))
	if err != nil || f.EntityKey != "acct-1" {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := s.Check([]byte(`{"stream":"fraud","entity_key":"acct-1","value":"x","event_time":"2026-11-26T10:00:00Z"}`)); err == nil {
		t.Fatal("a string label value passed")
	}
}

func TestLoadDir(t *testing.T) {
	// The repository's own definitions parse.
	streams, err := streamspec.LoadDir(os.DirFS("../../schemas/streams"))
	if err != nil || len(streams) == 0 {
		t.Fatalf("schemas/streams: %d streams, %v", len(streams), err)
	}
	dup := fstest.MapFS{
		"a.json": {Data: []byte(clicks)},
		"b.json": {Data: []byte(strings.Replace(clicks, `"clicks"`, `"other"`, 1))},
	}
	if _, err := streamspec.LoadDir(dup); err == nil || !strings.Contains(err.Error(), "also the type") {
		t.Fatalf("duplicate type: %v", err)
	}
}

// TestCheckCopiesWhatItReturns: the decoded document shares the data's
// memory, but the entity key Check returns does not: overwriting the data
// afterwards leaves it as it was.
func TestCheckCopiesWhatItReturns(t *testing.T) {
	s, err := streamspec.Parse([]byte(clicks))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ data, key string }{
		{`{"user":{"id":"u-12345"},"at":"2026-11-26T10:00:00Z"}`, "u-12345"},
		{`{"user":{"id":1234567},"at":"2026-11-26T10:00:00Z"}`, "1234567"},
	} {
		data := []byte(tc.data)
		got, err := s.Check(data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range data {
			data[i] = 'x'
		}
		if got.EntityKey != tc.key || !got.EventTime.Equal(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("after overwriting the data: fields %+v, want key %q", got, tc.key)
		}
	}
}

// TestCheckRefusesUnsafeJSON: numbers float64 cannot hold, which made the
// schema validator panic (minimum with exact arithmetic), and keys given
// twice, whose second value the validator checked while a consumer may
// read the first, are refused with the field, before validation.
func TestCheckRefusesUnsafeJSON(t *testing.T) {
	s, err := streamspec.Parse([]byte(`{"name":"n","type":"com.example.n.v1","entity_key":"/k","schema":{"type":"object",
	 "properties":{"p":{"type":"number","minimum":0},"m":{"multipleOf":0.01},"u":{"type":"array","uniqueItems":true}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, data, field string
		want              error
	}{
		{"huge exponent under minimum", `{"k":"a","p":1e1000000000}`, "/p", jsondoc.ErrNumberRange},
		{"huge negative exponent under minimum", `{"k":"a","p":1e-1000000000}`, "/p", jsondoc.ErrNumberRange},
		{"zero with a huge exponent", `{"k":"a","p":0e99999999999999999999}`, "/p", jsondoc.ErrNumberRange},
		{"huge exponent under uniqueItems", `{"k":"a","u":[` + strings.Repeat("1e1000000000,", 30) + `1]}`, "/u/0", jsondoc.ErrNumberRange},
		{"half a million digits under multipleOf", `{"k":"a","m":1.` + strings.Repeat("3", 500000) + `}`, "/m", jsondoc.ErrNumberRange},
		{"overflow", `{"k":"a","p":1e400}`, "/p", jsondoc.ErrNumberRange},
		{"duplicate key", `{"k":"a","p":1,"p":-1}`, "/p", jsondoc.ErrDuplicateKey},
		{"duplicate entity key", `{"k":"a","k":"b"}`, "/k", jsondoc.ErrDuplicateKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := s.Check([]byte(tc.data))
			var je *jsondoc.Error
			if !errors.As(err, &je) || !errors.Is(err, tc.want) || je.Pointer != tc.field {
				t.Fatalf("want %v at %s, got %v", tc.want, tc.field, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	if _, err := s.Check([]byte(`{"k":"a","p":1.7976931348623157e308,"m":0.05,"u":[1,2]}`)); err != nil {
		t.Fatalf("largest float64: %v", err)
	}
}

func TestParseRefusesUnsafeSchema(t *testing.T) {
	for _, schema := range []string{`{"type":"object","properties":{"p":{"minimum":1e1000000000}}}`, `{"type":"object","type":"array"}`} {
		_, err := streamspec.Parse([]byte(`{"name":"n","type":"com.example.n.v1","entity_key":"/k","schema":` + schema + `}`))
		if !errors.Is(err, streamspec.ErrInvalidDefinition) || !strings.Contains(err.Error(), "schema: /") {
			t.Errorf("%s: %v", schema, err)
		}
	}
}
