package streamspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/jsondoc"
	"github.com/tributary-ml/tributary/schemas"
)

// Definition is a stream definition as written in a file or the KV bucket.
type Definition struct {
	// Name names the stream: its topic is tributary.events.<name>, its raw
	// topic tributary.ingest.<name> and its KV key <name>. Lowercase letters,
	// digits, '_' and '-', at most 64, starting with a letter or digit.
	Name string `json:"name"`
	// Description says what the events are, for people.
	Description string `json:"description,omitempty"`
	// Type is the CloudEvents type of the stream's events; one stream per
	// type. Types starting with "tributary." are the platform's own.
	Type string `json:"type"`
	// EntityKey is the JSON pointer (RFC 6901, "/user_id") of the field
	// holding the entity key: a string or an integer. It becomes the Kafka
	// record key.
	EntityKey string `json:"entity_key"`
	// EventTime is the JSON pointer of the field holding the event time as
	// an RFC 3339 string; empty: the CloudEvents time attribute.
	EventTime string `json:"event_time,omitempty"`
	// Schema is the JSON Schema of the event data (draft 2020-12 unless it
	// says otherwise with $schema); formats such as date-time are asserted.
	Schema json.RawMessage `json:"schema"`
}

// Stream is a checked definition with its compiled schema. It is immutable
// and safe for concurrent use.
type Stream struct {
	Definition
	// Topic is the Kafka topic of the stream's validated events.
	Topic string
	// Revision is where the definition came from, for logs: a file path, or
	// kv:<revision>; set by the caller.
	Revision string

	schema   *jsonschema.Schema
	keyPath  []string // EntityKey's tokens, unescaped
	timePath []string // EventTime's tokens; nil: the CloudEvents time
}

// ErrInvalidDefinition reports a definition that cannot be used; the error
// names the field.
var ErrInvalidDefinition = errors.New("invalid stream definition")

// LabelsName is the name of the built-in label stream.
const LabelsName = "labels"

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidName reports whether name can name a stream.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Parse decodes a definition (unknown fields are errors), checks it and
// compiles its schema. Errors wrap ErrInvalidDefinition.
func Parse(b []byte) (*Stream, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDefinition, err)
	}
	// A second Decode must find the end: dec.More() would take a stray
	// '}' or ']' after the object for the end of an enclosing value.
	if err := dec.Decode(&json.RawMessage{}); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the definition", ErrInvalidDefinition)
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	if strings.HasPrefix(d.Type, "tributary.") {
		return nil, fmt.Errorf("%w: type: %q: types starting with \"tributary.\" are the platform's own", ErrInvalidDefinition, d.Type)
	}
	if d.Name == LabelsName {
		return nil, fmt.Errorf("%w: name: %q is the built-in label stream", ErrInvalidDefinition, d.Name)
	}
	return compile(d, event.EventsTopic(d.Name))
}

func (d Definition) check() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidDefinition, field, fmt.Sprintf(format, args...))
	}
	switch {
	case !ValidName(d.Name):
		return bad("name", "%q is not 1 to 64 lowercase letters, digits, '_' or '-' starting with a letter or digit", d.Name)
	case d.Type == "" || len(d.Type) > 255 || strings.ContainsFunc(d.Type, func(r rune) bool { return r <= ' ' || r > '~' }):
		return bad("type", "%q is not 1 to 255 printable ASCII characters without spaces", d.Type)
	case !validPointer(d.EntityKey) || d.EntityKey == "":
		return bad("entity_key", "%q is not a JSON pointer to a field (\"/user_id\")", d.EntityKey)
	case d.EventTime != "" && !validPointer(d.EventTime):
		return bad("event_time", "%q is not a JSON pointer to a field (\"/ts\"), nor empty for the CloudEvents time", d.EventTime)
	case len(bytes.TrimSpace(d.Schema)) == 0:
		return bad("schema", "missing")
	}
	return nil
}

func validPointer(p string) bool {
	return p == "" || (strings.HasPrefix(p, "/") && len(p) > 1)
}

func compile(d Definition, topic string) (*Stream, error) {
	// Strict, as the data it checks: no key twice, no number float64
	// cannot hold (the compiler would drop such a bound silently). The
	// document shares the clone's memory, which nothing else holds.
	doc, err := jsondoc.Parse(bytes.Clone(d.Schema))
	if err != nil {
		return nil, fmt.Errorf("%w: schema: %v", ErrInvalidDefinition, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	// Refuse to fetch remote references: a definition is self-contained.
	c.UseLoader(noLoader{})
	url := "urn:tributary:stream:" + d.Name
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("%w: schema: %v", ErrInvalidDefinition, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("%w: schema: %v", ErrInvalidDefinition, err)
	}
	s := &Stream{Definition: d, Topic: topic, schema: sch, keyPath: tokens(d.EntityKey)}
	if d.EventTime != "" {
		s.timePath = tokens(d.EventTime)
	}
	return s, nil
}

var unescaper = strings.NewReplacer("~1", "/", "~0", "~")

// tokens splits a JSON pointer into its unescaped tokens.
func tokens(pointer string) []string {
	out := strings.Split(pointer, "/")[1:]
	for i, t := range out {
		out[i] = unescaper.Replace(t)
	}
	return out
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("remote schema %s not allowed: a stream schema is self-contained", url)
}

// Labels returns the built-in label stream: type tributary.label.recorded.v1
// on tributary.labels, its data checked with the platform schema in
// schemas/events, keyed by /entity_key, timed by /event_time.
func Labels() (*Stream, error) {
	b, err := fs.ReadFile(schemas.Events(), event.TypeLabelRecorded+".json")
	if err != nil {
		return nil, fmt.Errorf("read label schema: %w", err)
	}
	d := Definition{
		Name:        LabelsName,
		Description: "Ground-truth labels (built in).",
		Type:        event.TypeLabelRecorded,
		EntityKey:   "/entity_key",
		EventTime:   "/event_time",
		Schema:      b,
	}
	s, err := compile(d, event.TopicLabels)
	if err != nil {
		return nil, err
	}
	s.Revision = "builtin"
	return s, nil
}

// Violation is one way data breaks a stream's rules (jsondoc.Violation,
// as event.Violation): a JSON Schema keyword, or "entity_key" /
// "event_time" for the stream's own fields.
type Violation = jsondoc.Violation

// Error reports event data that breaks its stream's schema (Schema true) or
// lacks a usable entity key or event time.
type Error struct {
	Stream     string
	Schema     bool
	Violations []Violation
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	return fmt.Sprintf("data breaks stream %s: %s", e.Stream, strings.Join(parts, "; "))
}

// ErrMalformedData reports event data that is not one JSON document. It is
// jsondoc.ErrMalformed, as is event.ErrMalformedData.
var ErrMalformedData = jsondoc.ErrMalformed

// Fields are what Check extracts from valid data.
type Fields struct {
	// EntityKey is the key's string, or an integer's decimal text.
	EntityKey string
	// EventTime is the event time from the data; zero when the stream
	// uses the CloudEvents time attribute.
	EventTime time.Time
}

// Check validates data against the schema and extracts the entity key and
// event time. Errors: ErrMalformedData (wrapped) for data that is not one
// JSON document; a *jsondoc.Error (jsondoc.ErrDuplicateKey,
// jsondoc.ErrNumberRange) for JSON that must not be validated; or *Error.
// What it returns shares no memory with data, which it does not change.
func (s *Stream) Check(data []byte) (Fields, error) {
	doc, violations, err := jsondoc.Validate(s.schema, data)
	switch {
	case err != nil:
		return Fields{}, err
	case len(violations) > 0:
		return Fields{}, &Error{Stream: s.Name, Schema: true, Violations: violations}
	}
	var f Fields
	fail := func(field, rule, msg string) (Fields, error) {
		return Fields{}, &Error{Stream: s.Name, Violations: []Violation{{Field: field, Rule: rule, Message: msg}}}
	}
	switch v := lookup(doc, s.keyPath).(type) {
	case string:
		if v == "" {
			return fail(s.EntityKey, "entity_key", "entity key is empty")
		}
		f.EntityKey = strings.Clone(v) // v shares data's memory
	case json.Number:
		if _, err := strconv.ParseInt(string(v), 10, 64); err != nil {
			return fail(s.EntityKey, "entity_key", "entity key is a number that is not an integer")
		}
		f.EntityKey = strings.Clone(string(v))
	case nil:
		return fail(s.EntityKey, "entity_key", "entity key missing")
	default:
		return fail(s.EntityKey, "entity_key", "entity key is not a string or an integer")
	}
	if s.EventTime != "" {
		v, ok := lookup(doc, s.timePath).(string)
		if !ok {
			return fail(s.EventTime, "event_time", "event time missing or not a string")
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fail(s.EventTime, "event_time", "event time is not RFC 3339")
		}
		f.EventTime = t
	}
	return f, nil
}

// lookup resolves the tokens of a JSON pointer in a decoded document; nil
// when absent.
func lookup(doc any, path []string) any {
	cur := doc
	for _, tok := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}
