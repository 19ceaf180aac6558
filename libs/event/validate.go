package event

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tributary-ml/tributary/libs/jsondoc"
	"github.com/tributary-ml/tributary/schemas"
)

// Validator checks event data against the JSON Schemas of the platform event
// types (schemas/events). It is safe for concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema
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
	v := &Validator{schemas: make(map[string]*jsonschema.Schema, len(types))}
	for t, url := range urls {
		sch, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("compile schema of %s: %w", t, err)
		}
		v.schemas[t] = sch
	}
	return v, nil
}

// Violation is one way event data breaks its schema (jsondoc.Violation,
// which streamspec's violations are too).
type Violation = jsondoc.Violation

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

// ErrMalformedData reports event data that is not JSON. It is
// jsondoc.ErrMalformed, as is streamspec.ErrMalformedData.
var ErrMalformedData = jsondoc.ErrMalformed

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
	_, violations, err := jsondoc.Validate(sch, data)
	switch {
	case err != nil:
		return fmt.Errorf("data of %s: %w", eventType, err)
	case len(violations) > 0:
		return &ValidationError{Type: eventType, Violations: violations}
	}
	return nil
}
