package predlog

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
)

// The CloudEvents envelope of a record (its headers) decides, through
// libs/event, whether the record is an event and of which type; the
// monitor then needs only the type and the data. Records of one producer
// differ in their headers only in the id, the time and the trace context,
// so a Decoder remembers the envelopes libs/event accepted, by their shape:
// the headers with those four values left out. A record of a known shape
// whose id, time and trace context are of forms libs/event accepts
// whatever the rest (varying) skips libs/event and its sdk-go round trip.
// Anything else (a new shape, a header named twice or not in lower case,
// an id with spaces, a time in another form) goes through libs/event,
// which also gives every error. FuzzEnvelope holds it to libs/event.

// maxShapes bounds the envelope shapes a Decoder keeps.
const maxShapes = 64

// Header names whose values vary per record.
const (
	headerID          = event.KafkaHeaderPrefix + "id"
	headerTime        = event.KafkaHeaderPrefix + "time"
	headerTraceParent = event.KafkaHeaderPrefix + event.TraceParentExtension
	headerTraceState  = event.KafkaHeaderPrefix + event.TraceStateExtension
)

// envelope returns the event type and data of r, through libs/event or,
// for a shape it accepted before, without it.
func (d *Decoder) envelope(r *kgo.Record) (typ string, data []byte, err error) {
	if d == nil {
		return envelopeOf(r)
	}
	key, ok := d.shape(r)
	if ok {
		if typ, known := d.shapes[string(key)]; known {
			return typ, r.Value, nil
		}
	}
	typ, data, err = envelopeOf(r)
	if err == nil && ok && len(d.shapes) < maxShapes {
		if d.shapes == nil {
			d.shapes = map[string]string{}
		}
		d.shapes[string(key)] = typ
	}
	return typ, data, err
}

// envelopeOf is libs/event's reading of r.
func envelopeOf(r *kgo.Record) (string, []byte, error) {
	e, err := event.FromKafkaRecord(r)
	if err != nil {
		return "", nil, err
	}
	return e.Type(), e.Data(), nil
}

// shape writes the shape of r's envelope into d's buffer and returns it;
// false when libs/event's verdict may depend on more than the shape.
func (d *Decoder) shape(r *kgo.Record) ([]byte, bool) {
	b := d.shapeBuf[:0]
	defer func() { d.shapeBuf = b[:0] }()
	for i, h := range r.Headers {
		if !lowerName(h.Key) {
			return nil, false
		}
		// libs/event refuses a repeated attribute with another value: the
		// verdict would depend on the values.
		for _, o := range r.Headers[:i] {
			if o.Key == h.Key {
				return nil, false
			}
		}
		b = append(b, h.Key...)
		b = append(b, 0)
		switch h.Key {
		case headerID:
			if !plainID(h.Value) {
				return nil, false
			}
		case headerTime:
			if !utcTime(h.Value) {
				return nil, false
			}
		case headerTraceParent, headerTraceState:
			if !printable(h.Value) {
				return nil, false
			}
		default:
			b = append(b, h.Value...)
		}
		b = append(b, 1)
	}
	// sdk-go keeps no data for an empty value.
	if len(r.Value) == 0 {
		b = append(b, 0)
	}
	return b, true
}

// lowerName: no upper-case letter (libs/event matches names
// case-insensitively), ASCII only.
func lowerName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return false
		}
	}
	return true
}

// plainID: printable ASCII without spaces, so that trimming keeps it
// whole and non-empty, as sdk-go requires.
func plainID(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// printable: non-empty printable ASCII, which the extension accepts as it is.
func printable(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// utcTime: the form libs/event writes, YYYY-MM-DDTHH:MM:SS[.fraction]Z,
// that time.Parse(time.RFC3339Nano) (sdk-go's parser) accepts: a four-digit
// year in UTC, which libs/event's year check keeps.
func utcTime(v []byte) bool {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(v) < len(layout)+1 || v[len(v)-1] != 'Z' {
		return false
	}
	for i := range len(layout) {
		c := v[i]
		if layout[i] == 'd' {
			if c < '0' || c > '9' {
				return false
			}
		} else if c != layout[i] {
			return false
		}
	}
	frac := v[len(layout) : len(v)-1]
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return false
		}
		for _, c := range frac[1:] {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	_, err := time.Parse(time.RFC3339Nano, string(v))
	return err == nil
}
