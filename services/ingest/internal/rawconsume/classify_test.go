package rawconsume_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/ingest/internal/rawconsume"
)

// TestClassify: each way a raw record fails to decode gets its reason from
// the error's type, as the HTTP path answers it.
func TestClassify(t *testing.T) {
	h := func(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }
	binary := func(drop string, extra ...kgo.RecordHeader) *kgo.Record {
		var hs []kgo.RecordHeader
		for _, x := range []kgo.RecordHeader{h("ce_specversion", "1.0"), h("ce_id", "1"), h("ce_source", "/s"), h("ce_type", "t.v1"), h("content-type", "application/json")} {
			if x.Key != drop {
				hs = append(hs, x)
			}
		}
		return &kgo.Record{Value: []byte(`{"k":1}`), Headers: append(hs, extra...)}
	}
	structured := func(v string) *kgo.Record {
		return &kgo.Record{Value: []byte(v), Headers: []kgo.RecordHeader{h("content-type", "application/cloudevents+json")}}
	}
	for _, c := range []struct {
		name string
		rec  *kgo.Record
		want reason.ID
	}{
		{"no headers", &kgo.Record{Value: []byte("x")}, reason.NotCloudEvent},
		{"specversion 0.3", binary("ce_specversion", h("ce_specversion", "0.3")), reason.UnsupportedSpecVersion},
		{"no id", binary("ce_id"), reason.MissingAttribute},
		{"blank id", binary("ce_id", h("ce_id", " ")), reason.MissingAttribute},
		{"no source", binary("ce_source"), reason.MissingAttribute},
		{"no type", binary("ce_type"), reason.MissingAttribute},
		{"structured, no type", structured(`{"specversion":"1.0","id":"1","source":"/s"}`), reason.MissingAttribute},
		{"bad time", binary("", h("ce_time", "yesterday")), reason.InvalidAttribute},
		{"bad extension name", binary("", h("ce_Bad-Name", "x")), reason.InvalidAttribute},
		{"missing in a value is not a missing attribute", binary("", h("ce_time", "missing")), reason.InvalidAttribute},
		{"structured, key twice", structured(`{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}`), reason.DuplicateKey},
		{"structured, huge number", structured(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"n":1e400}}`), reason.NumberOutOfRange},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := event.FromKafkaRecord(c.rec)
			if err == nil {
				t.Fatal("decoded")
			}
			if got := rawconsume.Classify(err); got != c.want {
				t.Errorf("Classify(%v) = %s, want %s", err, got, c.want)
			}
		})
	}
}
