package intake

import (
	"context"
	"slices"
	"time"
	"unicode/utf8"
	"unsafe"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
)

// encodeRecord returns the record event.ToKafkaRecord makes of e for
// topic, without sdk-go's binding round trip: the ce_ headers are written
// straight from the CloudEvents 1.0 context, their values sharing the
// attributes' memory, and the value is the event's data, not a copy. An
// event the direct path does not cover (another spec version, extensions that are not strings, a time outside the years
// 0000-9999, text that is not UTF-8, an invalid context) goes through
// event.ToKafkaRecord, which encodes it or says what is wrong in its words.
// TestEncodeRecordEqualsToKafkaRecord proves both give the same records.
//
// validated says e.Validate() was nil when the event was decoded: then it
// is not run again (it was a tenth of a batch's CPU time, twice) unless
// e.FieldErrors holds an error of a setter since. Intake's changes are
// all setters (SetDataContentType of application/json, SetTime,
// SetExtension), and the context's own checks do not read extensions.
//
// source is e.Source(), which sdk-go formats again for each read.
func encodeRecord(e *ce.Event, topic string, validated bool, source string) (*kgo.Record, error) {
	rec := new(kgo.Record)
	if err := encodeRecordInto(rec, e, topic, validated, source, ""); err != nil {
		return nil, err
	}
	return rec, nil
}

// encodeRecordInto is encodeRecord into rec, a zero record but for its
// Headers: the direct path appends to Headers[:0] (a slice of the batch's
// headers, so that a record's headers are no allocation of their own).
// A partitionKey that is not empty is the event's partitionkey extension
// (the entity key; set in e only when the direct path does not apply: on
// it, a map for each event was half the allocations of a batch).
func encodeRecordInto(rec *kgo.Record, e *ce.Event, topic string, validated bool, source, partitionKey string) error {
	if encodeDirect(rec, e, topic, validated, source, partitionKey) {
		return nil
	}
	if partitionKey != "" {
		setPartitionKey(e, partitionKey)
	}
	r, err := event.ToKafkaRecord(context.Background(), *e, topic)
	if err != nil {
		return err
	}
	*rec = *r
	return nil
}

// bytesOf returns s's bytes without copying them: a record's header values
// are only read (by the producer, when it encodes the record). An empty
// value stays empty, not nil (Kafka's null header value).
func bytesOf(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// encodeDirect is encodeRecordInto's fast path, into rec; false, and rec
// unchanged, when it does not apply.
func encodeDirect(rec *kgo.Record, e *ce.Event, topic string, validated bool, source, partitionKey string) bool {
	c, ok := e.Context.(*ce.EventContextV1)
	if !ok || c == nil {
		return false
	}
	if c.Time != nil && !c.Time.IsZero() {
		if y := c.Time.UTC().Year(); y < 0 || y > 9999 {
			return false
		}
	}
	headers := rec.Headers[:0]
	if cap(headers) < 8+len(c.Extensions) {
		headers = make([]kgo.RecordHeader, 0, 8+len(c.Extensions))
	}
	add := func(key, value string) bool {
		if value == "" {
			return true // blank is missing, as sdk-go's binding treats it
		}
		if !utf8.ValidString(value) {
			return false
		}
		headers = append(headers, kgo.RecordHeader{Key: key, Value: bytesOf(value)})
		return true
	}
	var schema string
	if !utf8.ValidString(source) {
		return false
	}
	if c.DataSchema != nil {
		schema = c.DataSchema.String()
	}
	// In the order of their keys (sdk-go's binding sorts them): "ce_"
	// sorts before "content-type", and an extension is put in its place.
	if !add(event.KafkaHeaderPrefix+"dataschema", schema) ||
		!add(event.KafkaHeaderPrefix+"id", c.ID) ||
		!add(event.KafkaHeaderPrefix+"source", source) ||
		!add(event.KafkaHeaderPrefix+"specversion", ce.VersionV1) ||
		!add(event.KafkaHeaderPrefix+"subject", c.GetSubject()) {
		return false
	}
	if c.Time != nil && !c.Time.IsZero() {
		t := appendRFC3339NanoUTC(make([]byte, 0, len(time.RFC3339Nano)), c.Time.Time)
		headers = append(headers, kgo.RecordHeader{Key: event.KafkaHeaderPrefix + "time", Value: t})
	}
	if !add(event.KafkaHeaderPrefix+"type", c.Type) ||
		!add(event.KafkaContentTypeHeader, c.GetDataContentType()) {
		return false
	}
	var key []byte
	if partitionKey != "" {
		if !utf8.ValidString(partitionKey) {
			return false
		}
		key = bytesOf(partitionKey)
		headers = insertSorted(headers, kgo.RecordHeader{Key: event.KafkaHeaderPrefix + "partitionkey", Value: key})
	}
	for name, v := range c.Extensions {
		if name == "partitionkey" && partitionKey != "" {
			continue // replaced
		}
		s, ok := v.(string)
		if !ok || !utf8.ValidString(s) {
			return false
		}
		value := bytesOf(s)
		headers = insertSorted(headers, kgo.RecordHeader{Key: extensionHeader(name), Value: value})
		if name == "partitionkey" {
			key = value
		}
	}
	if (!validated || len(e.FieldErrors) > 0) && e.Validate() != nil {
		return false
	}
	*rec = kgo.Record{Topic: topic, Key: key, Headers: headers}
	if data := e.Data(); len(data) > 0 {
		rec.Value = data
	}
	return true
}

// insertSorted inserts h into hs, sorted by key, at its place.
func insertSorted(hs []kgo.RecordHeader, h kgo.RecordHeader) []kgo.RecordHeader {
	i := len(hs)
	for i > 0 && hs[i-1].Key > h.Key {
		i--
	}
	return slices.Insert(hs, i, h)
}

// extensionHeader is the header key of an extension, not built again for
// the common ones.
func extensionHeader(name string) string {
	switch name {
	case "partitionkey":
		return event.KafkaHeaderPrefix + "partitionkey"
	case event.TraceParentExtension:
		return event.KafkaHeaderPrefix + event.TraceParentExtension
	case event.TraceStateExtension:
		return event.KafkaHeaderPrefix + event.TraceStateExtension
	}
	return event.KafkaHeaderPrefix + name
}

// appendRFC3339NanoUTC appends t.UTC().AppendFormat(b, time.RFC3339Nano)
// for a year in 0000-9999, without the layout's interpretation (a tenth
// of a record's encoding): TestAppendRFC3339NanoUTC compares the two.
func appendRFC3339NanoUTC(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, second, 2)
	if ns := t.Nanosecond(); ns != 0 {
		width := 9
		for ns%10 == 0 { // RFC3339Nano drops the fraction's trailing zeros
			ns /= 10
			width--
		}
		b = append(b, '.')
		b = appendDigits(b, ns, width)
	}
	return append(b, 'Z')
}

// appendDigits appends v, 0 <= v < 10^width, in width decimal digits.
func appendDigits(b []byte, v, width int) []byte {
	n := len(b)
	b = append(b, "000000000"[:width]...)
	for i := n + width - 1; i >= n; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}
