package event_test

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/jsondoc"
)

const head = `{"specversion":"1.0","id":"1","source":"/s","type":"t"`

func TestDecodeStructured(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      error // nil: decodes
		data      string
	}{
		{"data_base64 after a blank", head + `,"data_base64": "AAE="}`, nil, "\x00\x01"},
		{"data_base64 between blanks", head + ` , "data_base64" :` + "\n\t" + `"AAE=" }`, nil, "\x00\x01"},
		{"data_base64 with an escaped slash", head + `,"data_base64":"\/w=="}`, nil, "\xff"},
		{"data_base64 plain", head + `,"data_base64":"AAE="}`, nil, "\x00\x01"},
		{"upper-case extension", head + `,"MyExt":"x"}`, event.ErrInvalidEvent, ""},
		{"extension with an underscore", head + `,"my_ext":"x"}`, event.ErrInvalidEvent, ""},
		{"extension twice in two cases", head + `,"myext":"x","MYEXT":"y"}`, event.ErrInvalidEvent, ""},
		{"attribute twice", head + `,"id":"2"}`, jsondoc.ErrDuplicateKey, ""},
		{"extension twice", head + `,"x":"1","x":"2"}`, jsondoc.ErrDuplicateKey, ""},
		{"data twice", head + `,"data":{"a":1},"data":{"a":2}}`, jsondoc.ErrDuplicateKey, ""},
		{"data and data_base64", head + `,"data":1,"data_base64":"AAE="}`, jsondoc.ErrDuplicateKey, ""},
		{"data_base64 not base64", head + `,"data_base64":"!!"}`, event.ErrInvalidEvent, ""},
		{"not an object", `[1]`, event.ErrInvalidEvent, ""},
		{"number beyond float64 in data", head + `,"data":{"p":[1,1e400]}}`, jsondoc.ErrNumberRange, ""},
		{"trailing data", head + `}{}`, event.ErrInvalidEvent, ""},
		// Neither binding carries bytes that are not UTF-8.
		{"type not utf-8", "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\xff\"}", event.ErrInvalidEvent, ""},
		{"extension not utf-8", head + ",\"myext\":\"\xfe\"}", event.ErrInvalidEvent, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := event.DecodeStructured([]byte(tc.raw))
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !errors.Is(err, event.ErrInvalidEvent) {
					t.Fatalf("want %v, got %v", tc.want, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(e.Data()) != tc.data || e.ID() != "1" {
				t.Fatalf("data %q id %q", e.Data(), e.ID())
			}
			// The Kafka path reads structured records the same way.
			r := &kgo.Record{Value: []byte(tc.raw), Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/cloudevents+json")}}}
			if ke, err := event.FromKafkaRecord(r); err != nil || string(ke.Data()) != tc.data {
				t.Fatalf("kafka: %v %v", ke, err)
			}
			// And NATS.
			msg := &nats.Msg{Subject: "s", Data: []byte(tc.raw), Header: nats.Header{"Content-Type": []string{"application/cloudevents+json"}}}
			if ne, err := event.FromNATSMsg(msg); err != nil || string(ne.Data()) != tc.data {
				t.Fatalf("nats: %v %v", ne, err)
			}
		})
	}
	r := &kgo.Record{Value: []byte(head + `,"Upper":"x"}`), Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/cloudevents+json")}}}
	if _, err := event.FromKafkaRecord(r); !errors.Is(err, event.ErrInvalidEvent) {
		t.Fatalf("kafka, upper-case extension: %v", err)
	}
	msg := &nats.Msg{Subject: "s", Data: r.Value, Header: nats.Header{"Content-Type": []string{"application/cloudevents+json"}}}
	if _, err := event.FromNATSMsg(msg); !errors.Is(err, event.ErrInvalidEvent) {
		t.Fatalf("nats, upper-case extension: %v", err)
	}
}
