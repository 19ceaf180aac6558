package predlog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/monitor/internal/predlog"
)

func record(t testing.TB, typ string, data any) *kgo.Record {
	t.Helper()
	e := ce.New()
	e.SetID("ev-1")
	e.SetSource("tributary/serving")
	e.SetType(typ)
	e.SetTime(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	if err := e.SetData(ce.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	r, err := event.ToKafkaRecord(context.Background(), e, event.TopicPredictions)
	if err != nil {
		t.Fatal(err)
	}
	r.Timestamp = time.Date(2026, 11, 30, 10, 0, 1, 500_000_000, time.UTC)
	return r
}

func valid() map[string]any {
	return map[string]any{
		"prediction_id": "p-1", "model": "churn", "version": 3, "alias": "canary", "entity_key": "c42",
		"features": map[string]any{"v:b": 2, "v:a": nil}, "prediction": 0.7, "probabilities": []float64{0.3, 0.7},
		"shadow": true, "event_time": "2026-11-30T10:00:00.250Z", "latency_seconds": 0.004,
		"feature_ages_seconds": map[string]float64{"v:b": 30},
		"categorical_features": map[string]any{"v:merchant": "grocery", "v:country": nil},
	}
}

func TestDecode(t *testing.T) {
	with := func(k string, v any) map[string]any {
		m := valid()
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name string
		rec  *kgo.Record
		want reason.ID
	}{
		{"valid", record(t, event.TypePredictionLogged, valid()), ""},
		{"not a cloudevent", &kgo.Record{Value: []byte(`{}`)}, reason.UndecodableEvent},
		{"other type", record(t, event.TypeLabelRecorded, valid()), reason.BadPrediction},
		{"data not an object", record(t, event.TypePredictionLogged, []int{1}), reason.UndecodableEvent},
		{"feature not a number", record(t, event.TypePredictionLogged, with("features", map[string]any{"v:a": "x"})), reason.UndecodableEvent},
		{"no prediction_id", record(t, event.TypePredictionLogged, with("prediction_id", nil)), reason.BadPrediction},
		{"no model", record(t, event.TypePredictionLogged, with("model", nil)), reason.BadPrediction},
		{"version 0", record(t, event.TypePredictionLogged, with("version", 0)), reason.BadPrediction},
		{"version too large", record(t, event.TypePredictionLogged, with("version", int64(1)<<40)), reason.BadPrediction},
		{"no entity", record(t, event.TypePredictionLogged, with("entity_key", nil)), reason.BadPrediction},
		{"no event_time", record(t, event.TypePredictionLogged, with("event_time", nil)), reason.BadPrediction},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := predlog.Decode(tc.rec)
			var re *predlog.RecordError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && !errors.As(err, &re):
				t.Fatalf("error %v, want reason %s", err, tc.want)
			case tc.want != "" && re.Reason != tc.want:
				t.Fatalf("reason %s (%v), want %s", re.Reason, err, tc.want)
			}
		})
	}
}

func TestNewRow(t *testing.T) {
	r := record(t, event.TypePredictionLogged, valid())
	r.Partition, r.Offset = 2, 17
	p, err := predlog.Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	row := predlog.NewRow(p, r)
	if !slices.Equal(row.FeatureNames, []string{"v:a", "v:b"}) || row.FeatureValues[0] != nil || *row.FeatureValues[1] != 2 {
		t.Errorf("features %v %v", row.FeatureNames, row.FeatureValues)
	}
	if !slices.Equal(row.AgeNames, []string{"v:b"}) || !slices.Equal(row.AgeSeconds, []float64{30}) {
		t.Errorf("ages %v %v", row.AgeNames, row.AgeSeconds)
	}
	if !slices.Equal(row.CategoricalNames, []string{"v:country", "v:merchant"}) || len(row.CategoricalValues) != 2 ||
		row.CategoricalValues[0] != nil || row.CategoricalValues[1] == nil || *row.CategoricalValues[1] != "grocery" {
		t.Errorf("categorical features %v %v", row.CategoricalNames, row.CategoricalValues)
	}
	args := row.Args()
	if n := len(strings.Split(predlog.Columns, ", ")); len(args) != n || n != 21 {
		t.Fatalf("%d values for the %d columns", len(args), n)
	}
	if args[2].(uint16) != 250 || args[18].(uint16) != 500 || args[6].(uint8) != 1 || args[5].(string) != "canary" || args[19].(int32) != 2 || args[20].(int64) != 17 {
		t.Errorf("args %v", args)
	}
	if names, ok := args[10].([]string); !ok || !slices.Equal(names, row.CategoricalNames) {
		t.Errorf("categorical_feature_names %v", args[10])
	}

	// A record without categorical features (serving before they were
	// logged) has empty arrays, not nil ones.
	old := valid()
	delete(old, "categorical_features")
	p, err = predlog.Decode(record(t, event.TypePredictionLogged, old))
	if err != nil {
		t.Fatal(err)
	}
	row = predlog.NewRow(p, r)
	if row.CategoricalNames == nil || len(row.CategoricalNames) != 0 || row.CategoricalValues == nil || len(row.CategoricalValues) != 0 {
		t.Errorf("categorical features of a record without them: %#v %#v", row.CategoricalNames, row.CategoricalValues)
	}
}

// FuzzDecode: Decode never accepts what libs/event refuses, never panics,
// and what it accepts has every field the table needs.
func FuzzDecode(f *testing.F) {
	b, _ := json.Marshal(valid())
	f.Add(b, event.TypePredictionLogged)
	f.Add([]byte(`{"prediction_id":"x","model":"m","version":1,"entity_key":"e","features":{},"prediction":1,"event_time":"2026-01-01T00:00:00Z"}`), event.TypePredictionLogged)
	f.Add([]byte(`{"version":1e10}`), event.TypePredictionLogged)
	f.Fuzz(func(t *testing.T, data []byte, typ string) {
		rec := &kgo.Record{Value: data, Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("1")},
			{Key: "ce_source", Value: []byte("s")}, {Key: "ce_type", Value: []byte(typ)},
			{Key: "content-type", Value: []byte("application/json")},
		}}
		p, err := predlog.Decode(rec)
		if _, cerr := event.FromKafkaRecord(rec); cerr != nil && err == nil {
			t.Fatalf("accepted a record libs/event refuses: %v", cerr)
		}
		if err != nil {
			var re *predlog.RecordError
			if !errors.As(err, &re) || !slices.Contains(reason.Monitor().IDs(), re.Reason) {
				t.Fatalf("error without a monitor reason: %v", err)
			}
			return
		}
		if p.PredictionID == "" || p.Model == "" || p.Version < 1 || p.EntityKey == "" || p.EventTime.IsZero() || typ != event.TypePredictionLogged {
			t.Fatalf("accepted %+v", p)
		}
		_ = predlog.NewRow(p, rec).Args()
	})
}

// BenchmarkDecode is the client's cost per record of the consumer's
// decode: the CloudEvents binding of libs/event, then the JSON data.
func BenchmarkDecode(b *testing.B) {
	feats := map[string]any{}
	for f := range 20 {
		feats["v:f"+string(rune('a'+f))] = float64(f) / 7
	}
	m := valid()
	m["features"] = feats
	rec := record(b, event.TypePredictionLogged, m)
	b.Run("event", func(b *testing.B) {
		for b.Loop() {
			if _, err := event.FromKafkaRecord(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			if _, err := predlog.Decode(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoder", func(b *testing.B) {
		d := predlog.NewDecoder()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decode(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzEnvelope is a Decoder, which skips libs/event for the envelopes it
// has seen libs/event accept, against Decode, which always asks libs/event:
// for any record, after the decoder has read a record of the same headers
// with other ids, times and trace context, both give the same prediction
// or the same error.
func FuzzEnvelope(f *testing.F) {
	data, _ := json.Marshal(valid())
	f.Add("1.0", "tributary/serving", event.TypePredictionLogged, "p-1", "2026-11-30T10:00:00.25Z", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "application/json", "", "", false, data)
	f.Add("1.0", "tributary/serving", event.TypePredictionLogged, " p-1", "2026-11-30T10:00:00Z", "", "application/json", "ce_id", "p-2", false, data)
	f.Add("1.0", "::", event.TypePredictionLogged, "p-1", "2026-11-30T10:00:00+01:00", "x y", "text/plain", "CE_TYPE", "t", true, data)
	f.Add("1.0", "s", "t", "p\x00", "10000-01-01T00:00:00Z", "\xff", "", "ce_traceparent", "", false, []byte{})
	f.Add("0.3", "s", event.TypePredictionLogged, "p", "2026-02-30T10:00:00Z", "", "application/cloudevents+json", "", "", false, data)
	f.Fuzz(func(t *testing.T, spec, source, typ, id, at, parent, contentType, extraKey, extraValue string, upper bool, value []byte) {
		headers := func(id, at, parent string) []kgo.RecordHeader {
			var hs []kgo.RecordHeader
			add := func(k, v string) {
				if upper {
					k = strings.ToUpper(k)
				}
				hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(v)})
			}
			add("ce_specversion", spec)
			add("ce_id", id)
			add("ce_source", source)
			add("ce_type", typ)
			if at != "" {
				add("ce_time", at)
			}
			if parent != "" {
				add("ce_traceparent", parent)
			}
			if contentType != "" {
				add("content-type", contentType)
			}
			if extraKey != "" {
				hs = append(hs, kgo.RecordHeader{Key: extraKey, Value: []byte(extraValue)})
			}
			return hs
		}
		d := predlog.NewDecoder()
		warmParent := ""
		if parent != "" {
			warmParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		}
		warmAt := ""
		if at != "" {
			warmAt = "2026-01-01T00:00:00Z"
		}
		_, _ = d.Decode(&kgo.Record{Headers: headers("warm-1", warmAt, warmParent), Value: value})
		rec := &kgo.Record{Headers: headers(id, at, parent), Value: value}
		got, gotErr := d.Decode(rec)
		want, wantErr := predlog.Decode(rec)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("decoder: %v\nlibs/event: %v", gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoder: %+v\nlibs/event: %+v", got, want)
		}
	})
}
