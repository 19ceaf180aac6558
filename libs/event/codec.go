package event

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Errors of the decoders and encoders. Match them with errors.Is.
var (
	// ErrNotCloudEvent: the message carries no CloudEvent (no specversion
	// header and no CloudEvents content type), or one in an event format
	// other than JSON.
	ErrNotCloudEvent = errors.New("not a cloudevent")
	// ErrUnsupportedSpecVersion: the event is not CloudEvents 1.0.
	ErrUnsupportedSpecVersion = errors.New("unsupported cloudevents specversion")
	// ErrInvalidEvent: the event breaks the CloudEvents rules: a required
	// attribute is missing, or an attribute or extension has a bad name or
	// value.
	ErrInvalidEvent = errors.New("invalid cloudevent")
	// ErrMissingAttribute: a required attribute (id, source, type) is
	// missing or empty. It is an ErrInvalidEvent too.
	ErrMissingAttribute = fmt.Errorf("%w: required attribute missing", ErrInvalidEvent)
)

// required are the attributes ErrMissingAttribute is about (specversion,
// when missing, is ErrNotCloudEvent).
var required = [...]string{"id", "source", "type"}

const (
	specVersion10 = ce.CloudEventsVersionV1
	// partitionKeyExtension is the CloudEvents partitioning extension; its
	// value is the Kafka record key.
	partitionKeyExtension = "partitionkey"
	// Content type prefix of the structured content mode.
	structuredPrefix = "application/cloudevents"
)

// checkEvent reports whether e can travel: CloudEvents 1.0 with every
// required attribute and no recorded field error.
func checkEvent(e *ce.Event) error {
	if e.Context == nil {
		return fmt.Errorf("%w: no context", ErrInvalidEvent)
	}
	if v := e.SpecVersion(); v != specVersion10 {
		return fmt.Errorf("%w %q (want %s)", ErrUnsupportedSpecVersion, v, specVersion10)
	}
	if t := e.Time(); !t.IsZero() {
		// RFC 3339 has four-digit years; outside them the header would not
		// parse back.
		if y := t.UTC().Year(); y < 0 || y > 9999 {
			return fmt.Errorf("%w: time: year %d outside 0000-9999", ErrInvalidEvent, y)
		}
	}
	if err := checkUTF8(e); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		var ve ce.ValidationError
		if errors.As(err, &ve) {
			for _, name := range required {
				if _, bad := ve[name]; bad && strings.TrimSpace(attribute(e, name)) == "" {
					return fmt.Errorf("%w: %s", ErrMissingAttribute, formatValidation(ve))
				}
			}
			return fmt.Errorf("%w: %s", ErrInvalidEvent, formatValidation(ve))
		}
		return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	return nil
}

func attribute(e *ce.Event, name string) string {
	switch name {
	case "id":
		return e.ID()
	case "source":
		return e.Source()
	}
	return e.Type()
}

// normalize trims the attributes that sdk-go's setters trim, which its JSON
// reader does not: a structured event then decodes to what its binary form
// decodes to.
func normalize(e *ce.Event) error {
	c := e.Context
	if id := e.ID(); id != "" && strings.TrimSpace(id) != id {
		if err := c.SetID(id); err != nil {
			return fmt.Errorf("%w: id: %v", ErrInvalidEvent, err)
		}
	}
	for _, set := range []struct {
		value string
		fn    func(string) error
	}{
		{e.Type(), c.SetType},
		{e.Subject(), c.SetSubject},
		{e.DataContentType(), c.SetDataContentType},
		{e.DataSchema(), c.SetDataSchema},
	} {
		if set.value != strings.TrimSpace(set.value) {
			if err := set.fn(set.value); err != nil {
				return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
			}
		}
	}
	return nil
}

// checkUTF8 rejects attribute and extension values that are not UTF-8: the
// CloudEvents String type is a sequence of Unicode characters, and neither
// the Kafka nor the NATS binding can carry anything else.
func checkUTF8(e *ce.Event) error {
	attrs := [...]struct{ name, value string }{
		{"id", e.ID()}, {"source", e.Source()}, {"type", e.Type()}, {"subject", e.Subject()},
		{"datacontenttype", e.DataContentType()}, {"dataschema", e.DataSchema()},
	}
	for _, a := range attrs {
		if !utf8.ValidString(a.value) {
			return fmt.Errorf("%w: %s: value is not utf-8", ErrInvalidEvent, a.name)
		}
	}
	for name, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			return fmt.Errorf("%w: extension %s: %v", ErrInvalidEvent, name, err)
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("%w: extension %s: value is not utf-8", ErrInvalidEvent, name)
		}
	}
	return nil
}

// formatValidation renders sdk-go's per-attribute errors in a stable order.
func formatValidation(ve ce.ValidationError) string {
	keys := make([]string, 0, len(ve))
	for k := range ve {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + ve[k].Error()
	}
	return strings.Join(parts, "; ")
}

// isStructured reports whether a content type names a CloudEvents event
// format (application/cloudevents+json, ...), matched case-insensitively.
func isStructured(contentType string) bool {
	return len(contentType) >= len(structuredPrefix) &&
		strings.EqualFold(contentType[:len(structuredPrefix)], structuredPrefix)
}

// mediaType returns a content type without parameters, lower-cased.
func mediaType(contentType string) string {
	if i := strings.IndexByte(contentType, ';'); i >= 0 {
		contentType = contentType[:i]
	}
	return strings.ToLower(strings.TrimSpace(contentType))
}

// classify makes sure a decoding error wraps one of the package's sentinel
// errors: what is not already classified (a structured event that does not
// parse, for one) is an invalid event.
func classify(err error) error {
	if errors.Is(err, ErrNotCloudEvent) || errors.Is(err, ErrUnsupportedSpecVersion) || errors.Is(err, ErrInvalidEvent) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
}
