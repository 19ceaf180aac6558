package featurespec

import (
	"encoding/json"
	"fmt"
)

// StreamInfo is what CheckStream needs of a stream definition
// (libs/streamspec.Definition has these fields).
type StreamInfo struct {
	Name      string
	EntityKey string
	EventTime string
	// Schema is the stream's JSON Schema; its top-level properties and
	// their types are checked against the source's fields.
	Schema json.RawMessage
}

// CheckStream checks a view's source against its stream's definition: the
// same entity-key and event-time fields, and every declared field a
// property of the schema with a compatible type. Errors wrap ErrInvalid and
// name the view and the field.
func CheckStream(v View, s StreamInfo) error {
	place := "view " + v.Name + ": source " + v.Source.Name
	if v.Source.Stream != s.Name {
		return fmt.Errorf("%w: %s: stream %q, checked against %q", ErrInvalid, place, v.Source.Stream, s.Name)
	}
	if v.Source.EntityKey != s.EntityKey {
		return fmt.Errorf("%w: %s: entity_key %q, stream %s is keyed by %q (views must use the stream's key, the Kafka record key)", ErrInvalid, place, v.Source.EntityKey, s.Name, s.EntityKey)
	}
	if v.Source.EventTime != s.EventTime {
		return fmt.Errorf("%w: %s: event_time %q, stream %s uses %q", ErrInvalid, place, v.Source.EventTime, s.Name, s.EventTime)
	}
	var schema struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(s.Schema, &schema); err != nil {
		return fmt.Errorf("%w: stream %s: schema: %v", ErrInvalid, s.Name, err)
	}
	for name, t := range v.Source.Fields {
		prop, ok := schema.Properties[name]
		if !ok {
			return fmt.Errorf("%w: %s: fields.%s: unknown field (not a property of stream %s's schema)", ErrInvalid, place, name, s.Name)
		}
		if !compatible(t, prop.Type) {
			return fmt.Errorf("%w: %s: fields.%s: declared %s, stream %s's schema says %v", ErrInvalid, place, name, t, s.Name, prop.Type)
		}
	}
	return nil
}

// compatible reports whether a JSON Schema type (a string, a list, or
// absent) admits a declared field type.
func compatible(t FieldType, schemaType any) bool {
	var types []string
	switch st := schemaType.(type) {
	case nil:
		return true
	case string:
		types = []string{st}
	case []any:
		for _, x := range st {
			if s, ok := x.(string); ok {
				types = append(types, s)
			}
		}
	}
	for _, s := range types {
		switch {
		case s == string(t):
		case t == TypeNumber && s == "integer":
		default:
			continue
		}
		return true
	}
	return false
}
