package predlog

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
)

// Entry is one record of the log: a CloudEvent in the parts the log encodes
// in Kafka's binary content mode. The caller builds the payload (for
// prediction logs, an event.PredictionLogged in JSON); the log does not
// look into it. Log takes ownership of Data and Key: the caller must not
// change them afterwards.
type Entry struct {
	// ID is the event id, unique per record (for predictions, the
	// prediction id): the key that consumers deduplicate by.
	ID string
	// Source and Type are the CloudEvents source and type; Type defaults to
	// event.TypePredictionLogged.
	Source string
	Type   string
	// Key is the record key (the entity key), which chooses the partition;
	// records with one key keep their order.
	Key string
	// Time is the event time, also the record's timestamp; zero: the time
	// Log was called.
	Time time.Time
	// Data is the payload, sent with content-type application/json.
	Data []byte
	// TraceParent and TraceState are the W3C trace context, sent as the
	// traceparent and tracestate extensions when not empty.
	TraceParent string
	TraceState  string
}

// size is what an entry counts against the byte bounds: a close upper
// estimate of its record's key, value and headers.
func (e *Entry) size() int {
	return len(e.ID) + len(e.Source) + len(e.Type) + len(e.Key) + len(e.Data) + len(e.TraceParent) + len(e.TraceState) + entryOverhead
}

// entryOverhead covers the header names, specversion, content type and time.
const entryOverhead = 128

const contentTypeJSON = "application/json"

// record encodes e as event.ToKafkaRecord would encode the same event with
// event.WithKey(Key): binary content mode, headers sorted by name
// (TestRecordEqualsToKafkaRecord checks it), without sdk-go's round trip.
func (e *Entry) record(topic string) *kgo.Record {
	typ := e.Type
	if typ == "" {
		typ = event.TypePredictionLogged
	}
	headers := make([]kgo.RecordHeader, 0, 8)
	add := func(k, v string) {
		if v != "" {
			headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
	}
	// In sorted order: ce_id < ce_source < ce_specversion < ce_time <
	// ce_traceparent < ce_tracestate < ce_type < content-type.
	add(event.KafkaHeaderPrefix+"id", e.ID)
	add(event.KafkaHeaderPrefix+"source", e.Source)
	add(event.KafkaHeaderPrefix+"specversion", "1.0")
	if !e.Time.IsZero() {
		headers = append(headers, kgo.RecordHeader{Key: event.KafkaHeaderPrefix + "time", Value: e.Time.UTC().AppendFormat(nil, time.RFC3339Nano)})
	}
	add(event.KafkaHeaderPrefix+event.TraceParentExtension, e.TraceParent)
	add(event.KafkaHeaderPrefix+event.TraceStateExtension, e.TraceState)
	add(event.KafkaHeaderPrefix+"type", typ)
	if len(e.Data) > 0 {
		add(event.KafkaContentTypeHeader, contentTypeJSON)
	}
	r := &kgo.Record{Topic: topic, Headers: headers, Timestamp: e.Time}
	if e.Key != "" {
		r.Key = []byte(e.Key)
	}
	if len(e.Data) > 0 {
		r.Value = e.Data
	}
	return r
}
