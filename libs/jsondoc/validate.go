package jsondoc

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// ErrMalformed reports data that is not one JSON document. libs/event and
// libs/streamspec name it ErrMalformedData; it is one error, so errors.Is
// matches it whichever name a caller uses.
var ErrMalformed = errors.New("malformed json")

// Violation is one way a document breaks its rules: a keyword of its JSON
// Schema, or a rule of the document's user (a stream's entity key).
type Violation struct {
	// Field is the JSON pointer of the offending value; "" for the
	// document itself. For a missing or unexpected property it is that
	// property's pointer.
	Field string
	// Rule is the JSON Schema keyword that failed ("required", "type",
	// "pattern", "additionalProperties", "minimum", "format", "enum", ...),
	// or the user's rule.
	Rule string
	// Message describes the failure in English.
	Message string
}

func (v Violation) String() string {
	f := v.Field
	if f == "" {
		f = "/"
	}
	return f + ": " + v.Rule + ": " + v.Message
}

// english renders the validator's messages; a Printer is safe for
// concurrent use and this one is never changed.
var english = message.NewPrinter(language.English)

// Validate parses data with Parse and validates the document against sch.
// It returns the document and, when the document breaks the schema, each
// failing keyword as a Violation, sorted by field (nil when valid). err is
// a *Error (ErrDuplicateKey, ErrNumberRange) for JSON that must not be
// validated, wraps ErrMalformed for data that is not one JSON document, and
// is otherwise an unexpected failure of the validator.
func Validate(sch *jsonschema.Schema, data []byte) (doc any, violations []Violation, err error) {
	doc, err = Parse(data)
	if err != nil {
		var refused *Error
		if errors.As(err, &refused) {
			return nil, nil, refused
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	err = sch.Validate(doc)
	if err == nil {
		return doc, nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, nil, fmt.Errorf("validate: %w", err)
	}
	collect(ve, &violations)
	slices.SortStableFunc(violations, func(a, b Violation) int { return strings.Compare(a.Field, b.Field) })
	if len(violations) == 0 { // not expected: every error tree has leaves
		violations = []Violation{{Rule: "schema", Message: ve.Error()}}
	}
	return doc, violations, nil
}

// collect appends the leaves of an error tree: the failures that name a
// keyword, not the groups that only say "some subschema failed".
func collect(ve *jsonschema.ValidationError, out *[]Violation) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			collect(c, out)
		}
		return
	}
	field := pointer(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, name := range k.Missing {
			*out = append(*out, Violation{Field: field + "/" + escape(name), Rule: "required", Message: "missing property"})
		}
		return
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			*out = append(*out, Violation{Field: field + "/" + escape(name), Rule: "additionalProperties", Message: "property not allowed"})
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
	msg := strings.TrimPrefix(ve.ErrorKind.LocalizedString(english), rule+": ")
	*out = append(*out, Violation{Field: field, Rule: rule, Message: msg})
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escape(t))
	}
	return b.String()
}
