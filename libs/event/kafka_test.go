package event_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
)

func TestToKafkaRecordHeaders(t *testing.T) {
	e := fullEvent(t, "evt-1")
	rec, err := event.ToKafkaRecord(context.Background(), e, "tributary.events.cards")
	if err != nil {
		t.Fatalf("ToKafkaRecord: %v", err)
	}
	want := map[string]string{
		"ce_specversion":  "1.0",
		"ce_id":           "evt-1",
		"ce_source":       "/tributary/ingest/test",
		"ce_type":         "tributary.model.registered.v1",
		"ce_subject":      "fraud v8 — ünïcödé and spaces",
		"ce_dataschema":   "https://tributary-ml.github.io/tributary/schemas/events/tributary.model.registered.v1.json",
		"ce_time":         "2026-11-26T09:15:30.123456789Z",
		"content-type":    "application/json",
		"ce_partitionkey": "card-4711",
		"ce_count":        "-42",
		"ce_flag":         "true",
		"ce_blob":         "AAEC/w==",
		"ce_link":         "https://example.com/a?b=c",
		"ce_when":         "2026-01-02T03:04:05.0000006Z",
		"ce_traceparent":  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	if got := headerMap(rec.Headers); !maps.Equal(got, want) {
		t.Errorf("headers:\n got %v\nwant %v", got, want)
	}
	if len(rec.Headers) != len(want) {
		t.Errorf("%d headers, want %d (no duplicates)", len(rec.Headers), len(want))
	}
	for i := 1; i < len(rec.Headers); i++ {
		if rec.Headers[i-1].Key > rec.Headers[i].Key {
			t.Errorf("headers not sorted: %s before %s", rec.Headers[i-1].Key, rec.Headers[i].Key)
		}
	}
	if rec.Topic != "tributary.events.cards" {
		t.Errorf("topic %q", rec.Topic)
	}
	if string(rec.Key) != "card-4711" {
		t.Errorf("key %q, want the partitionkey card-4711", rec.Key)
	}
	if string(rec.Value) != `{"model":"fraud","version":8}` {
		t.Errorf("value %q", rec.Value)
	}
}

func TestKafkaRoundTrip(t *testing.T) {
	binaryData := minimalEvent("bin")
	if err := binaryData.SetData("application/octet-stream", []byte{0, 0xff, 0xfe, '\n', 0x80}); err != nil {
		t.Fatal(err)
	}
	text := minimalEvent("text")
	if err := text.SetData("text/plain; charset=utf-8", []byte("hello, world")); err != nil {
		t.Fatal(err)
	}
	emptyData := minimalEvent("empty")
	emptyData.SetDataContentType("application/json")

	tests := []struct {
		name      string
		e         ce.Event
		opts      []event.KafkaOption
		wantKey   []byte
		wantValue bool
	}{
		{name: "all attributes and extensions", e: fullEvent(t, "full"), wantKey: []byte("card-4711"), wantValue: true},
		{name: "partitionkey wins over WithKey", e: fullEvent(t, "full2"), opts: []event.KafkaOption{event.WithKey([]byte("other"))}, wantKey: []byte("card-4711"), wantValue: true},
		{name: "required attributes only", e: minimalEvent("min")},
		{name: "WithKey without partitionkey", e: minimalEvent("keyed"), opts: []event.KafkaOption{event.WithKey([]byte("entity-7"))}, wantKey: []byte("entity-7")},
		{name: "binary data", e: binaryData, wantValue: true},
		{name: "text data", e: text, wantValue: true},
		{name: "content type without data", e: emptyData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := event.ToKafkaRecord(context.Background(), tt.e, "topic", tt.opts...)
			if err != nil {
				t.Fatalf("ToKafkaRecord: %v", err)
			}
			if string(rec.Key) != string(tt.wantKey) || (rec.Key == nil) != (tt.wantKey == nil) {
				t.Errorf("key %q, want %q", rec.Key, tt.wantKey)
			}
			if (rec.Value != nil) != tt.wantValue {
				t.Errorf("value %q, want one: %v (no data means no value)", rec.Value, tt.wantValue)
			}
			got, err := event.FromKafkaRecord(rec)
			if err != nil {
				t.Fatalf("FromKafkaRecord: %v", err)
			}
			assertSameEvent(t, &tt.e, got)
		})
	}
}

func TestFromKafkaRecordStructured(t *testing.T) {
	e := fullEvent(t, "structured")
	body, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range []string{"application/cloudevents+json", "Application/CloudEvents+JSON; charset=UTF-8"} {
		t.Run(ct, func(t *testing.T) {
			rec := &kgo.Record{
				Value: body,
				Headers: []kgo.RecordHeader{
					{Key: "content-type", Value: []byte(ct)},
					// Structured mode ignores ce_ headers.
					{Key: "ce_id", Value: []byte("ignored")},
				},
			}
			got, err := event.FromKafkaRecord(rec)
			if err != nil {
				t.Fatalf("FromKafkaRecord: %v", err)
			}
			assertSameEvent(t, &e, got)
			if m := event.NewKafkaMessage(rec); m.ReadEncoding() != binding.EncodingStructured {
				t.Errorf("encoding %v, want structured", m.ReadEncoding())
			}
		})
	}
}

func TestFromKafkaRecordLenient(t *testing.T) {
	h := func(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }
	rec := &kgo.Record{
		Value: []byte(`{"a":1}`),
		Headers: []kgo.RecordHeader{
			h("CE_SpecVersion", "1.0"),
			h("ce_ID", "id-1"),
			h("ce_source", "/s"),
			h("ce_type", "t"),
			h("Content-Type", "application/json"),
			h("ce_id", "id-1"), // repeated with the same value
			h("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
			h("x-dlq-reason", "schema_violation"),
			h("ce_Tenant", "acme"),
		},
	}
	got, err := event.FromKafkaRecord(rec)
	if err != nil {
		t.Fatalf("FromKafkaRecord: %v", err)
	}
	want := minimalEvent("id-1")
	if err := want.SetData("application/json", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	want.SetExtension("tenant", "acme")
	assertSameEvent(t, &want, got)
}

func TestFromKafkaRecordErrors(t *testing.T) {
	h := func(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }
	base := func(extra ...kgo.RecordHeader) []kgo.RecordHeader {
		return append([]kgo.RecordHeader{h("ce_specversion", "1.0"), h("ce_id", "1"), h("ce_source", "/s"), h("ce_type", "t")}, extra...)
	}
	without := func(name string) []kgo.RecordHeader {
		var out []kgo.RecordHeader
		for _, x := range base() {
			if x.Key != name {
				out = append(out, x)
			}
		}
		return out
	}
	tests := []struct {
		name     string
		rec      *kgo.Record
		want     error
		contains string
	}{
		{name: "no cloudevents headers", rec: &kgo.Record{Value: []byte("x")}, want: event.ErrNotCloudEvent},
		{name: "plain json content type", rec: &kgo.Record{Value: []byte("{}"), Headers: []kgo.RecordHeader{h("content-type", "application/json")}}, want: event.ErrNotCloudEvent},
		{name: "unknown event format", rec: &kgo.Record{Headers: []kgo.RecordHeader{h("content-type", "application/cloudevents+avro")}}, want: event.ErrNotCloudEvent, contains: "avro"},
		{name: "batch format", rec: &kgo.Record{Value: []byte("[]"), Headers: []kgo.RecordHeader{h("content-type", "application/cloudevents-batch+json")}}, want: event.ErrNotCloudEvent},
		{name: "specversion 0.3", rec: &kgo.Record{Headers: []kgo.RecordHeader{h("ce_specversion", "0.3"), h("ce_id", "1"), h("ce_source", "/s"), h("ce_type", "t")}}, want: event.ErrUnsupportedSpecVersion, contains: "0.3"},
		{name: "specversion 2.0", rec: &kgo.Record{Headers: []kgo.RecordHeader{h("ce_specversion", "2.0")}}, want: event.ErrUnsupportedSpecVersion},
		{name: "missing id", rec: &kgo.Record{Headers: without("ce_id")}, want: event.ErrMissingAttribute, contains: "id"},
		{name: "missing source", rec: &kgo.Record{Headers: without("ce_source")}, want: event.ErrMissingAttribute, contains: "source"},
		{name: "missing type", rec: &kgo.Record{Headers: without("ce_type")}, want: event.ErrMissingAttribute, contains: "type"},
		{name: "empty id", rec: &kgo.Record{Headers: append(without("ce_id"), h("ce_id", " "))}, want: event.ErrMissingAttribute, contains: "id"},
		{name: "bad time", rec: &kgo.Record{Headers: base(h("ce_time", "yesterday"))}, want: event.ErrInvalidEvent, contains: "ce_time"},
		{name: "bad extension name", rec: &kgo.Record{Headers: base(h("ce_foo-bar", "x"))}, want: event.ErrInvalidEvent, contains: "ce_foo-bar"},
		{name: "empty extension name", rec: &kgo.Record{Headers: base(h("ce_", "x"))}, want: event.ErrInvalidEvent},
		{name: "conflicting id", rec: &kgo.Record{Headers: base(h("ce_id", "2"))}, want: event.ErrInvalidEvent, contains: "conflicting"},
		{name: "conflicting content type", rec: &kgo.Record{Headers: base(h("content-type", "a/b"), h("ce_datacontenttype", "c/d"))}, want: event.ErrInvalidEvent, contains: "conflicting"},
		{name: "value not utf-8", rec: &kgo.Record{Headers: base(h("ce_subject", "\xff\xfe"))}, want: event.ErrInvalidEvent, contains: "utf-8"},
		{name: "relative dataschema", rec: &kgo.Record{Headers: base(h("ce_dataschema", "schemas/x.json"))}, want: event.ErrInvalidEvent, contains: "dataschema"},
		{name: "structured, malformed", rec: &kgo.Record{Value: []byte(`{"specversion":`), Headers: []kgo.RecordHeader{h("content-type", "application/cloudevents+json")}}, want: event.ErrInvalidEvent},
		{name: "structured, missing id", rec: &kgo.Record{Value: []byte(`{"specversion":"1.0","source":"/s","type":"t"}`), Headers: []kgo.RecordHeader{h("content-type", "application/cloudevents+json")}}, want: event.ErrMissingAttribute, contains: "id"},
		{name: "structured, specversion 0.3", rec: &kgo.Record{Value: []byte(`{"specversion":"0.3","id":"1","source":"/s","type":"t"}`), Headers: []kgo.RecordHeader{h("content-type", "application/cloudevents+json")}}, want: event.ErrUnsupportedSpecVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := event.FromKafkaRecord(tt.rec)
			if !errors.Is(err, tt.want) {
				t.Fatalf("FromKafkaRecord = %v, %v; want error %v", got, err, tt.want)
			}
			if tt.want != event.ErrMissingAttribute && errors.Is(err, event.ErrMissingAttribute) {
				t.Errorf("FromKafkaRecord = %v: not a missing attribute", err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not mention %q", err, tt.contains)
			}
		})
	}
}

func TestToKafkaRecordRejects(t *testing.T) {
	noID := ce.New()
	noID.SetSource("/s")
	noID.SetType("t")
	tests := []struct {
		name string
		e    ce.Event
		want error
	}{
		{name: "missing id", e: noID, want: event.ErrMissingAttribute},
		{name: "missing source", e: func() ce.Event { e := ce.New(); e.SetID("1"); e.SetType("t"); return e }(), want: event.ErrMissingAttribute},
		{name: "specversion 0.3", e: func() ce.Event {
			e := ce.New(ce.CloudEventsVersionV03)
			e.SetID("1")
			e.SetSource("/s")
			e.SetType("t")
			return e
		}(), want: event.ErrUnsupportedSpecVersion},
		{name: "bad source recorded by a setter", e: func() ce.Event { e := minimalEvent("1"); e.SetSource("%zz"); return e }(), want: event.ErrInvalidEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := event.ToKafkaRecord(context.Background(), tt.e, "t"); !errors.Is(err, tt.want) {
				t.Fatalf("ToKafkaRecord error %v, want %v", err, tt.want)
			}
			if _, err := event.ToNATSMsg(tt.e, "s"); !errors.Is(err, tt.want) {
				t.Fatalf("ToNATSMsg error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestKafkaMessageStreaming uses the binding.Message reader the way a
// pipeline would: forward a record to another record without building an
// event first, keeping foreign headers out.
func TestKafkaMessageStreaming(t *testing.T) {
	e := fullEvent(t, "stream")
	in, err := event.ToKafkaRecord(context.Background(), e, "tributary.ingest.cards")
	if err != nil {
		t.Fatal(err)
	}
	in.Headers = append(in.Headers, kgo.RecordHeader{Key: "x-foreign", Value: []byte("1")})
	m := event.NewKafkaMessage(in)
	if err := m.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	if m.ReadEncoding() != binding.EncodingBinary {
		t.Fatalf("encoding %v, want binary", m.ReadEncoding())
	}
	if got := m.GetExtension("partitionkey"); got != "card-4711" {
		t.Errorf("GetExtension(partitionkey) = %v", got)
	}
	out := &kgo.Record{Topic: "tributary.events.cards"}
	if err := event.WriteKafkaRecord(context.Background(), m, out); err != nil {
		t.Fatalf("WriteKafkaRecord: %v", err)
	}
	if _, ok := headerMap(out.Headers)["x-foreign"]; ok {
		t.Error("foreign header copied")
	}
	if string(out.Key) != "card-4711" {
		t.Errorf("key %q", out.Key)
	}
	got, err := event.FromKafkaRecord(out)
	if err != nil {
		t.Fatal(err)
	}
	assertSameEvent(t, &e, got)

	// A structured record is written in binary mode too.
	body, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	structured := &kgo.Record{Value: body, Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/cloudevents+json")}}}
	out2 := &kgo.Record{}
	if err := event.WriteKafkaRecord(context.Background(), event.NewKafkaMessage(structured), out2); err != nil {
		t.Fatalf("WriteKafkaRecord(structured): %v", err)
	}
	if headerMap(out2.Headers)["content-type"] != "application/json" || string(out2.Key) != "card-4711" {
		t.Errorf("structured input not rewritten to binary: headers %v key %q", headerMap(out2.Headers), out2.Key)
	}
	got2, err := event.FromKafkaRecord(out2)
	if err != nil {
		t.Fatal(err)
	}
	assertSameEvent(t, &e, got2)
}
