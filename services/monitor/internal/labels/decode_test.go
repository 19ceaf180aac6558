package labels_test

import (
	"context"
	"errors"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/monitor/internal/labels"
)

func record(t testing.TB, typ string, data []byte) *kgo.Record {
	t.Helper()
	e := ce.New()
	e.SetID("l-1")
	e.SetSource("crm")
	e.SetType(typ)
	e.SetTime(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	if err := e.SetData(ce.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	r, err := event.ToKafkaRecord(context.Background(), e, event.TopicLabels)
	if err != nil {
		t.Fatal(err)
	}
	r.Timestamp = time.Date(2026, 11, 30, 12, 0, 0, 5e6, time.UTC)
	r.Partition, r.Offset = 2, 7
	return r
}

func TestDecode(t *testing.T) {
	good := `{"stream":"churned","entity_key":"c1","value":1,"event_time":"2026-11-30T10:00:00.250Z","prediction_id":"p-1"}`
	l, err := labels.Decode(record(t, event.TypeLabelRecorded, []byte(good)))
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != "crm/l-1" || l.Stream != "churned" || l.EntityKey != "c1" || l.Value != 1 || l.PredictionID != "p-1" ||
		!l.EventTime.Equal(time.Date(2026, 11, 30, 10, 0, 0, 250e6, time.UTC)) || !l.IngestTime.Equal(time.Date(2026, 11, 30, 12, 0, 0, 5e6, time.UTC)) || l.Partition != 2 || l.Offset != 7 {
		t.Errorf("label %+v", l)
	}
	for _, tc := range []struct {
		name string
		r    *kgo.Record
	}{
		{"not a cloudevent", &kgo.Record{Value: []byte("x")}},
		{"another type", record(t, event.TypePredictionLogged, []byte(good))},
		{"not json", record(t, event.TypeLabelRecorded, []byte(`{"stream":`))},
		{"unknown field", record(t, event.TypeLabelRecorded, []byte(`{"stream":"s","entity_key":"c1","value":1,"event_time":"2026-11-30T10:00:00Z","colour":"red"}`))},
		{"value not a number", record(t, event.TypeLabelRecorded, []byte(`{"stream":"s","entity_key":"c1","value":"yes","event_time":"2026-11-30T10:00:00Z"}`))},
		{"no stream", record(t, event.TypeLabelRecorded, []byte(`{"entity_key":"c1","value":1,"event_time":"2026-11-30T10:00:00Z"}`))},
		{"no entity", record(t, event.TypeLabelRecorded, []byte(`{"stream":"s","value":1,"event_time":"2026-11-30T10:00:00Z"}`))},
		{"no time", record(t, event.TypeLabelRecorded, []byte(`{"stream":"s","entity_key":"c1","value":1}`))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := labels.Decode(tc.r)
			var re *labels.RecordError
			if !errors.As(err, &re) || re.Reason != reason.BadLabel {
				t.Fatalf("Decode = %v, want a bad_label RecordError", err)
			}
		})
	}
}

// FuzzDecode: whatever the data, Decode does not panic, and a label it
// accepts has what a join needs and passes the event's JSON Schema where
// the schema's own rules (stream pattern, lengths) hold.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"stream":"churned","entity_key":"c1","value":1,"event_time":"2026-11-30T10:00:00Z","prediction_id":"p-1"}`))
	f.Add([]byte(`{"stream":"s","entity_key":"c","value":-0.5e3,"event_time":"2026-11-30T10:00:00+02:00"}`))
	f.Add([]byte(`{"stream":"s","entity_key":"c","value":1,"event_time":"2026-11-30T10:00:00Z","extra":1}`))
	f.Add([]byte(`null`))
	v, err := event.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := labels.Decode(record(t, event.TypeLabelRecorded, data))
		if err != nil {
			var re *labels.RecordError
			if !errors.As(err, &re) || re.Reason != reason.BadLabel {
				t.Fatalf("error %v is not a bad_label RecordError", err)
			}
			return
		}
		if l.Stream == "" || l.EntityKey == "" || l.EventTime.IsZero() || l.ID != "crm/l-1" {
			t.Fatalf("accepted %q as %+v", data, l)
		}
		if err := v.Validate(event.TypeLabelRecorded, data); err != nil {
			var ve *event.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("validate: %v", err)
			}
			for _, x := range ve.Violations {
				switch x.Rule {
				case "pattern", "minLength", "maxLength", "format":
				default:
					t.Fatalf("Decode accepted %q, which the schema refuses: %v", data, err)
				}
			}
		}
	})
}
