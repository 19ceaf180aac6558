package event_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
)

// classified reports whether a decoding error wraps one of the package's
// sentinels, so that callers can always tell why a message was refused.
func classified(err error) bool {
	return errors.Is(err, event.ErrNotCloudEvent) || errors.Is(err, event.ErrUnsupportedSpecVersion) || errors.Is(err, event.ErrInvalidEvent)
}

// reencode checks the property both fuzz targets share: a decoded event
// encodes for either wire, and decodes back to the same event.
func reencode(t *testing.T, e *ce.Event) {
	t.Helper()
	rec, err := event.ToKafkaRecord(context.Background(), *e, "t")
	if err != nil {
		t.Fatalf("decoded event does not encode for kafka: %v", err)
	}
	fromKafka, err := event.FromKafkaRecord(rec)
	if err != nil {
		t.Fatalf("re-encoded record does not decode: %v\nheaders %q", err, rec.Headers)
	}
	assertSameEvent(t, e, fromKafka)
	if pk, ok := e.Extensions()["partitionkey"]; ok && string(rec.Key) != pk {
		t.Errorf("record key %q, want the partitionkey %q", rec.Key, pk)
	}

	msg, err := event.ToNATSMsg(*e, "s")
	if err != nil {
		t.Fatalf("decoded event does not encode for nats: %v", err)
	}
	fromNATS, err := event.FromNATSMsg(msg)
	if err != nil {
		t.Fatalf("re-encoded nats message does not decode: %v\nheaders %q", err, msg.Header)
	}
	assertSameEvent(t, e, fromNATS)
}

func seedEvents(f *testing.F) []ce.Event {
	full := fullEvent(f, "seed-full")
	bin := minimalEvent("seed-bin")
	if err := bin.SetData("application/octet-stream", []byte{0, 0xff, '\n', ':'}); err != nil {
		f.Fatal(err)
	}
	return []ce.Event{full, bin, minimalEvent("seed-min")}
}

func FuzzFromKafkaRecord(f *testing.F) {
	for _, e := range seedEvents(f) {
		rec, err := event.ToKafkaRecord(context.Background(), e, "t")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec.Key, rec.Value, kafkaHeaderLines(rec.Headers))
		body, err := json.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(nil), body, []byte("content-type:application/cloudevents+json"))
	}
	f.Add([]byte(nil), []byte("x"), []byte("ce_specversion:1.0\nce_id:1\nce_source:/s\nce_type:t\nce_time:2026-01-01T00:00:00+14:00\nCE_ID:1\ncontent-type:text/plain"))
	f.Add([]byte(nil), []byte(nil), []byte("ce_specversion:0.3\nce_id:1"))
	f.Add([]byte(nil), []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAE="}`), []byte("content-type:application/cloudevents+json"))
	// Structured events sdk-go decoded wrongly: data_base64 after a blank,
	// an upper-case extension, members twice.
	f.Add([]byte(nil), []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64" : "AAE="}`), []byte("content-type:application/cloudevents+json"))
	f.Add([]byte(nil), []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","MyExt":"x","myext":"y"}`), []byte("content-type:application/cloudevents+json"))
	f.Add([]byte(nil), []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","id":"2","data":{"a":1,"a":2}}`), []byte("content-type:application/cloudevents+json"))

	f.Fuzz(func(t *testing.T, key, value, headers []byte) {
		rec := &kgo.Record{Key: key, Value: value}
		for _, kv := range parseHeaderLines(headers) {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: kv[0], Value: []byte(kv[1])})
		}
		e, err := event.FromKafkaRecord(rec)
		if err != nil {
			if !classified(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		for name := range e.Extensions() {
			if !lowerAlnum(name) {
				t.Fatalf("extension %q accepted", name)
			}
		}
		reencode(t, e)
	})
}

func lowerAlnum(s string) bool {
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

func FuzzFromNATSMsg(f *testing.F) {
	for _, e := range seedEvents(f) {
		msg, err := event.ToNATSMsg(e, "s")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(natsHeaderLines(msg.Header), msg.Data)
		body, err := json.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte("Content-Type:application/cloudevents+json"), body)
		f.Add([]byte(nil), body)
	}
	f.Add([]byte(`ce-specversion:"1.0"`+"\nce-id:%e2%82%ac\nce-source:%2Fs\nce-type:t\nce-subject:\"a \\\"b\\\"\"\nContent-Type:text/plain"), []byte("x"))
	f.Add([]byte("ce-specversion:1.0\nce-id:1\nce-id:2"), []byte(nil))
	f.Add([]byte("ce-specversion:1.0\nce-id:%C0%A0"), []byte(nil))

	f.Fuzz(func(t *testing.T, headers, data []byte) {
		msg := &nats.Msg{Subject: "s", Data: data}
		if kvs := parseHeaderLines(headers); kvs != nil {
			msg.Header = nats.Header{}
			for _, kv := range kvs {
				msg.Header.Add(kv[0], kv[1])
			}
		}
		e, err := event.FromNATSMsg(msg)
		if err != nil {
			if !classified(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		reencode(t, e)
	})
}
