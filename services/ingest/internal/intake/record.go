package intake

import (
	"context"
	"slices"
	"strings"
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
func encodeRecord(e *ce.Event, topic string) (*kgo.Record, error) {
	if rec := encodeDirect(e, topic); rec != nil {
		return rec, nil
	}
	return event.ToKafkaRecord(context.Background(), *e, topic)
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

// encodeDirect is encodeRecord's fast path; nil when it does not apply.
func encodeDirect(e *ce.Event, topic string) *kgo.Record {
	c, ok := e.Context.(*ce.EventContextV1)
	if !ok || c == nil {
		return nil
	}
	if c.Time != nil && !c.Time.IsZero() {
		if y := c.Time.UTC().Year(); y < 0 || y > 9999 {
			return nil
		}
	}
	headers := make([]kgo.RecordHeader, 0, 8+len(c.Extensions))
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
	var source, schema string
	if source = c.Source.String(); !utf8.ValidString(source) {
		return nil
	}
	if c.DataSchema != nil {
		schema = c.DataSchema.String()
	}
	if !add(event.KafkaHeaderPrefix+"id", c.ID) ||
		!add(event.KafkaHeaderPrefix+"source", source) ||
		!add(event.KafkaHeaderPrefix+"specversion", ce.VersionV1) ||
		!add(event.KafkaHeaderPrefix+"type", c.Type) ||
		!add(event.KafkaContentTypeHeader, c.GetDataContentType()) ||
		!add(event.KafkaHeaderPrefix+"dataschema", schema) ||
		!add(event.KafkaHeaderPrefix+"subject", c.GetSubject()) {
		return nil
	}
	if c.Time != nil && !c.Time.IsZero() {
		headers = append(headers, kgo.RecordHeader{Key: event.KafkaHeaderPrefix + "time", Value: c.Time.UTC().AppendFormat(nil, time.RFC3339Nano)})
	}
	var key []byte
	for name, v := range c.Extensions {
		s, ok := v.(string)
		if !ok || !utf8.ValidString(s) {
			return nil
		}
		value := bytesOf(s)
		headers = append(headers, kgo.RecordHeader{Key: event.KafkaHeaderPrefix + name, Value: value})
		if name == "partitionkey" {
			key = value
		}
	}
	if e.Validate() != nil {
		return nil
	}
	slices.SortFunc(headers, func(a, b kgo.RecordHeader) int { return strings.Compare(a.Key, b.Key) })
	rec := &kgo.Record{Topic: topic, Key: key, Headers: headers}
	if data := e.Data(); len(data) > 0 {
		rec.Value = data
	}
	return rec
}
