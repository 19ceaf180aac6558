package event

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/tributary-ml/tributary/libs/jsondoc"
	"github.com/tributary-ml/tributary/schemas"
)

// Validator checks event data against the JSON Schemas of the platform event
// types (schemas/events). It is safe for concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema
	printer *message.Printer
}

// NewValidator compiles the embedded schema of every platform event type,
// as draft 2020-12 with format assertions (date-time is checked).
func NewValidator() (*Validator, error) {
	return newValidator(schemas.Events(), Types())
}

func newValidator(fsys fs.FS, types []string) (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	urls := make(map[string]string, len(types))
	for _, t := range types {
		name := t + ".json"
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read schema of %s: %w", t, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("parse schema %s: %w", name, err)
		}
		// Register under the file name; the schema's $id is its canonical
		// URL and resolves too.
		url := "file:///schemas/events/" + name
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", name, err)
		}
		urls[t] = url
	}
	v := &Validator{
		schemas: make(map[string]*jsonschema.Schema, len(types)),
		printer: message.NewPrinter(language.English),
	}
	for t, url := range urls {
		sch, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("compile schema of %s: %w", t, err)
		}
		v.schemas[t] = sch
	}
	return v, nil
}

// Violation is one way event data breaks its schema.
type Violation struct {
	// Field is the JSON pointer of the offending value ("/artifact_sha256");
	// "" for the document itself. For a missing or unexpected property it
	// is that property's pointer.
	Field string
	// Rule is the JSON Schema keyword that failed: "required", "type",
	// "pattern", "additionalProperties", "minimum", "format", "enum", ...
	Rule string
	// Message describes the failure in English.
	Message string
}

func (v Violation) String() string {
	field := v.Field
	if field == "" {
		field = "/"
	}
	return field + ": " + v.Rule + ": " + v.Message
}

// ValidationError reports event data that breaks its schema.
type ValidationError struct {
	Type       string
	Violations []Violation
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	return fmt.Sprintf("data of %s breaks its schema: %s", e.Type, strings.Join(parts, "; "))
}

// ErrMalformedData reports event data that is not JSON.
var ErrMalformedData = errors.New("malformed json")

// Validate checks data, the JSON data of an event of type eventType, against
// the type's schema. The error wraps ErrUnknownType for a type without a
// schema and ErrMalformedData for data that is not JSON, wraps a
// *jsondoc.Error (jsondoc.ErrDuplicateKey, jsondoc.ErrNumberRange) for JSON
// with a key twice or a number float64 cannot hold, which are refused
// before validation, and is a *ValidationError, naming each failing field
// and rule, when the data breaks the schema.
func (v *Validator) Validate(eventType string, data []byte) error {
	sch, ok := v.schemas[eventType]
	if !ok {
		return fmt.Errorf("validate data: %w %q", ErrUnknownType, eventType)
	}
	doc, err := jsondoc.Parse(data)
	if err != nil {
		var refused *jsondoc.Error
		if errors.As(err, &refused) {
			return fmt.Errorf("data of %s: %w", eventType, refused)
		}
		return fmt.Errorf("data of %s: %w: %v", eventType, ErrMalformedData, err)
	}
	err = sch.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("validate data of %s: %w", eventType, err)
	}
	out := &ValidationError{Type: eventType}
	v.collect(ve, &out.Violations)
	slices.SortStableFunc(out.Violations, func(a, b Violation) int { return strings.Compare(a.Field, b.Field) })
	if len(out.Violations) == 0 { // not expected: every error tree has leaves
		out.Violations = append(out.Violations, Violation{Rule: "schema", Message: ve.Error()})
	}
	return out
}

// collect appends the leaves of an error tree: the failures that name a
// keyword, not the groups that only say "some subschema failed".
func (v *Validator) collect(ve *jsonschema.ValidationError, out *[]Violation) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			v.collect(c, out)
		}
		return
	}
	field := pointer(ve.InstanceLocation)
	msg := ve.ErrorKind.LocalizedString(v.printer)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, name := range k.Missing {
			*out = append(*out, Violation{Field: field + "/" + escapePointer(name), Rule: "required", Message: "missing property"})
		}
		return
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			*out = append(*out, Violation{Field: field + "/" + escapePointer(name), Rule: "additionalProperties", Message: "property not allowed"})
		}
		return
	}
	rule := "schema"
	if path := ve.ErrorKind.KeywordPath(); len(path) > 0 {
		rule = path[len(path)-1]
	} else if _, ok := ve.ErrorKind.(*kind.Not); ok {
		rule = "not"
	} else if _, ok := ve.ErrorKind.(*kind.FalseSchema); ok {
		rule = "false"
	}
	msg = strings.TrimPrefix(msg, rule+": ")
	*out = append(*out, Violation{Field: field, Rule: rule, Message: msg})
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapePointer(t))
	}
	return b.String()
}

// escapePointer escapes a JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
