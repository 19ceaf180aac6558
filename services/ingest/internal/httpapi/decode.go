package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/jsondoc"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
)

// Content types of the CloudEvents HTTP binding.
const (
	ContentTypeStructured = "application/cloudevents+json"
	ContentTypeBatch      = "application/cloudevents-batch+json"
)

// mode is how a request carries its events.
type mode int

const (
	modeUnsupported mode = iota
	modeStructured
	modeBatch
	modeBinary
)

// modeOf reads the mode from the headers: a ce-specversion header means
// binary mode whatever the content type, as the binding says.
func modeOf(h http.Header) mode {
	if h.Get("Ce-Specversion") != "" {
		return modeBinary
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return modeUnsupported
	}
	switch mt {
	case ContentTypeStructured:
		return modeStructured
	case ContentTypeBatch:
		return modeBatch
	}
	return modeUnsupported
}

func rejected(r intake.Reason, raw []byte, format string, args ...any) intake.Item {
	return intake.Item{Raw: raw, Size: len(raw), Rejection: &intake.Rejection{Reason: r, Message: fmt.Sprintf(format, args...)}}
}

// decodeBatch splits a batch body into its events. A body that is not a
// JSON array, is empty or holds more than maxBatch events is one rejected
// item for the whole request (whole is true).
func decodeBatch(body []byte, maxBatch int) (items []intake.Item, whole bool) {
	raws, err := splitArray(body)
	if err != nil {
		return []intake.Item{rejected(reason.MalformedJSON, body, "body: a batch is a JSON array of events: %v", err)}, true
	}
	if len(raws) == 0 {
		return []intake.Item{rejected(reason.EmptyBatch, body, "body: the batch holds no events")}, true
	}
	if len(raws) > maxBatch {
		return []intake.Item{rejected(reason.BatchTooLarge, body, "body: %d events, more than the limit of %d a batch", len(raws), maxBatch)}, true
	}
	items = make([]intake.Item, len(raws))
	memo := sourceMemo{events: make([]fastEvent, len(raws))}
	for i, raw := range raws {
		items[i] = decodeValidStructured(raw, &memo) // valid JSON: the array was
	}
	return items, false
}

// requiredAttrs are the attributes every event has, in the order checked.
var requiredAttrs = []string{"specversion", "id", "source", "type"}

// decodeStructured decodes one event in the JSON event format.
func decodeStructured(raw []byte) intake.Item {
	if !validJSON(raw) {
		return diagnoseStructured(raw)
	}
	return decodeValidStructured(raw, nil)
}

// decodeValidStructured decodes one event known to be valid JSON: the
// common event with decodeFast, any other with event.DecodeStructured
// (sdk-go's decoder, strict about member names, members twice and
// data_base64); only an event that fails is read again, by
// diagnoseStructured, to name the attribute at fault.
//
// memo, when not nil, is decodeFast's memory of the batch's last source.
func decodeValidStructured(raw []byte, memo *sourceMemo) intake.Item {
	if e, source, ok := decodeFast(raw, memo); ok && validFast(e, source) {
		// The data is a value of raw, valid JSON.
		return intake.Item{Event: e, Validated: true, DataJSON: true, Raw: raw, Size: len(raw), Source: source}
	}
	if e, err := event.DecodeStructured(raw); err == nil && e.SpecVersion() == ce.VersionV1 && e.Validate() == nil {
		return intake.Item{Event: e, Validated: true, Raw: raw, Size: len(raw)}
	}
	return diagnoseStructured(raw)
}

// diagnoseStructured decodes one event with the checks in the order that
// gives the most precise reason: JSON, then each required attribute, then
// the rest of the CloudEvents rules.
func diagnoseStructured(raw []byte) intake.Item {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil || attrs == nil {
		if err == nil {
			err = fmt.Errorf("null")
		}
		return rejected(reason.MalformedJSON, raw, "event: not a JSON object: %v", err)
	}
	e, decodeErr := event.DecodeStructured(raw)
	var refused *jsondoc.Error
	if errors.As(decodeErr, &refused) {
		if errors.Is(refused, jsondoc.ErrNumberRange) { // in the data
			return rejected(reason.NumberOutOfRange, raw, "data: %v", refused)
		}
		return rejected(reason.DuplicateKey, raw, "event: %v", refused)
	}
	for _, name := range requiredAttrs {
		v, ok := attrs[name]
		if !ok || bytes.Equal(v, []byte("null")) {
			return rejected(reason.MissingAttribute, raw, "%s: required attribute missing", name)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return rejected(reason.InvalidAttribute, raw, "%s: not a string", name)
		}
		if s == "" {
			return rejected(reason.MissingAttribute, raw, "%s: required attribute is empty", name)
		}
		if name == "specversion" && s != "1.0" {
			return rejected(reason.UnsupportedSpecVersion, raw, "specversion: %q is not 1.0", s)
		}
	}
	if decodeErr != nil {
		return rejected(reason.InvalidAttribute, raw, "event: %v", decodeErr)
	}
	if err := e.Validate(); err != nil {
		return rejected(reason.InvalidAttribute, raw, "event: %v", err)
	}
	return intake.Item{Event: e, Validated: true, Raw: raw, Size: len(raw)}
}

// decodeBinary decodes an event in binary mode: attributes in ce-*
// headers (percent-encoded), datacontenttype in Content-Type, the body as
// data.
func decodeBinary(h http.Header, body []byte) intake.Item {
	it := decodeBinaryEvent(h, body)
	if it.Rejection != nil {
		// Keep what identifies the event on its dead-letter record.
		for name, values := range h {
			lower := strings.ToLower(name)
			if strings.HasPrefix(lower, "ce-") && len(values) > 0 {
				it.Headers = append(it.Headers, kgo.RecordHeader{Key: "ce_" + lower[3:], Value: []byte(values[0])})
			}
		}
		if ct := h.Get("Content-Type"); ct != "" {
			it.Headers = append(it.Headers, kgo.RecordHeader{Key: "content-type", Value: []byte(ct)})
		}
		// In one order, so that the same request always keeps the same
		// headers when intake cuts them to fit the dead-letter record.
		slices.SortFunc(it.Headers, func(a, b kgo.RecordHeader) int { return strings.Compare(a.Key, b.Key) })
	}
	return it
}

func decodeBinaryEvent(h http.Header, body []byte) intake.Item {
	attrs := map[string]string{}
	for name, values := range h {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, "ce-") {
			continue
		}
		attr := strings.TrimPrefix(lower, "ce-")
		if len(values) != 1 {
			return rejected(reason.InvalidAttribute, body, "%s: header given %d times", attr, len(values))
		}
		v, err := url.PathUnescape(values[0])
		if err != nil {
			return rejected(reason.InvalidAttribute, body, "%s: bad percent-encoding", attr)
		}
		if !utf8.ValidString(v) {
			return rejected(reason.InvalidAttribute, body, "%s: not UTF-8", attr)
		}
		attrs[attr] = v
	}
	for _, name := range requiredAttrs {
		v := attrs[name]
		if v == "" {
			return rejected(reason.MissingAttribute, body, "%s: required attribute missing (header ce-%s)", name, name)
		}
		if name == "specversion" && v != "1.0" {
			return rejected(reason.UnsupportedSpecVersion, body, "specversion: %q is not 1.0", v)
		}
	}
	e := ce.NewEvent()
	for name, v := range attrs {
		switch name {
		case "specversion":
		case "id":
			e.SetID(v)
		case "source":
			e.SetSource(v)
		case "type":
			e.SetType(v)
		case "subject":
			e.SetSubject(v)
		case "dataschema":
			e.SetDataSchema(v)
		case "datacontenttype":
			return rejected(reason.InvalidAttribute, body, "datacontenttype: travels in Content-Type in binary mode, not in ce-datacontenttype")
		case "time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return rejected(reason.InvalidAttribute, body, "time: %q is not RFC 3339", v)
			}
			e.SetTime(t)
		default:
			e.SetExtension(name, v)
		}
	}
	if ct := h.Get("Content-Type"); ct != "" {
		e.SetDataContentType(ct)
	}
	if len(body) > 0 {
		e.DataEncoded = body
	}
	if err := e.Validate(); err != nil {
		return rejected(reason.InvalidAttribute, body, "event: %v", err)
	}
	return intake.Item{Event: &e, Validated: true, Raw: body, Size: len(body)}
}

// splitArray returns the elements of a JSON array as sub-slices of body,
// without copying them. It checks and cuts the body in one read; only a
// body that is not valid JSON is read again, by encoding/json, for an error
// that says where.
func splitArray(body []byte) ([][]byte, error) {
	out, ok := scanArray(body)
	if !ok {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("not an array")
	}
	return out, nil
}

// scanArray cuts a JSON array into its elements; ok is false when body is
// not one valid JSON document, or one that is not an array (out is then
// nil).
func scanArray(body []byte) (out [][]byte, ok bool) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '[' {
		return nil, false
	}
	out = make([][]byte, 0, 128)
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == ']' {
		return out, skipSpace(body, i+1) == len(body)
	}
	for {
		start := skipSpace(body, i)
		end, ok := scanValue(body, start, 1)
		if !ok {
			return nil, false
		}
		out = append(out, body[start:end:end])
		i = skipSpace(body, end)
		if i >= len(body) {
			return nil, false
		}
		switch body[i] {
		case ',':
			i++
		case ']':
			return out, skipSpace(body, i+1) == len(body)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
