package performance_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/services/monitor/internal/performance"
)

// fakeLog answers the join's reads from a slice, as ClickHouse would.
type fakeLog []performance.Prediction

func (f fakeLog) ByID(_ context.Context, ids []string) ([]performance.Prediction, error) {
	var out []performance.Prediction
	for _, p := range f {
		if slices.Contains(ids, p.ID) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f fakeLog) ByEntity(_ context.Context, models, entities []string, from, to time.Time) ([]performance.Prediction, error) {
	var out []performance.Prediction
	for _, p := range f {
		if slices.Contains(models, p.Model) && slices.Contains(entities, p.EntityKey) && !p.Time.Before(from.Truncate(time.Second)) && !p.Time.After(to) {
			out = append(out, p)
		}
	}
	return out, nil
}

func TestJoin(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	v := 1.0
	log := fakeLog{
		{ID: "a", Model: "churn", Version: 1, Route: "production", EntityKey: "e1", Time: t0.Add(-50 * time.Minute), FeatureNames: []string{"r:g"}, FeatureValues: []*float64{&v}},
		{ID: "b", Model: "churn", Version: 1, Route: "production", EntityKey: "e1", Time: t0.Add(-10 * time.Minute)}, // the latest of v1 production
		{ID: "c", Model: "churn", Version: 2, Route: "canary", EntityKey: "e1", Time: t0.Add(-20 * time.Minute)},
		{ID: "d", Model: "churn", Version: 1, Route: "production", EntityKey: "e1", Time: t0.Add(time.Minute)},      // after the label
		{ID: "e", Model: "churn", Version: 3, Route: "shadow", EntityKey: "e1", Time: t0.Add(-2 * time.Hour)},       // beyond the horizon
		{ID: "f", Model: "fraud", Version: 1, Route: "production", EntityKey: "e1", Time: t0.Add(-5 * time.Minute)}, // another stream's model
		{ID: "g", Model: "fraud", Version: 1, Route: "production", EntityKey: "e2", Time: t0.Add(-5 * time.Hour)},
	}
	cfg := &performance.Config{Horizon: time.Hour, DecisionThreshold: 0.5, MinLabels: 1, Models: map[string]performance.ModelConfig{
		"churn": {LabelStream: "churned", Fairness: &performance.FairnessConfig{Attribute: "r:g"}},
		"fraud": {LabelStream: "fraud"},
	}}
	labels := []performance.Label{
		{ID: "s/1", Stream: "churned", EntityKey: "e1", EventTime: t0, Value: 1, IngestTime: t0.Add(time.Hour)},
		{ID: "s/2", Stream: "x", EntityKey: "e2", EventTime: t0, PredictionID: "g", Value: 0, IngestTime: t0.Add(time.Hour)}, // by id: any model, any age
		{ID: "s/3", Stream: "churned", EntityKey: "e2", EventTime: t0},                                                       // nothing for e2 in churn
		{ID: "s/4", Stream: "nobody", EntityKey: "e1", EventTime: t0},                                                        // no model reads the stream
		{ID: "s/5", Stream: "churned", EntityKey: "e1", EventTime: t0, PredictionID: "zzz"},                                  // not logged
		{ID: "s/6", Stream: "churned", EntityKey: "e1", EventTime: t0.Add(-49 * time.Minute), PredictionID: "a"},
	}
	joined, unmatched, err := performance.Join(context.Background(), cfg, log, labels)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range joined {
		got = append(got, j.LabelID+">"+j.ID)
		if j.LabelIngestMs != uint64(t0.Add(time.Hour).UnixMilli()) && j.LabelID != "s/6" {
			t.Errorf("%s: label_ingest_ms %d", j.LabelID, j.LabelIngestMs)
		}
	}
	slices.Sort(got)
	if want := []string{"s/1>b", "s/1>c", "s/2>g", "s/6>a"}; !slices.Equal(got, want) {
		t.Errorf("joined %v, want %v", got, want)
	}
	var un []string
	for _, l := range unmatched {
		un = append(un, l.ID)
	}
	slices.Sort(un)
	if want := []string{"s/3", "s/4", "s/5"}; !slices.Equal(un, want) {
		t.Errorf("unmatched %v, want %v", un, want)
	}
	for _, j := range joined {
		switch j.ID {
		case "a":
			if j.ByEntity || j.Attribute != "r:g" || j.AttributeValue != "1" {
				t.Errorf("a: %+v", j)
			}
		case "b":
			if !j.ByEntity || j.Attribute != "r:g" || j.AttributeValue != "" || j.Label != 1 {
				t.Errorf("b: %+v", j)
			}
		case "g":
			if j.ByEntity || j.Attribute != "" {
				t.Errorf("g: %+v", j)
			}
		}
	}
}

func TestWindows(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 47, 3, 5e8, time.UTC)
	ws := performance.Windows("churn", at, []time.Duration{time.Hour, 24 * time.Hour, 5 * time.Minute})
	want := []time.Time{time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 10, 45, 0, 0, time.UTC)}
	for i, w := range ws {
		if !w.Start.Equal(want[i]) || w.Model != "churn" || !w.End().After(at) {
			t.Errorf("window %d: %+v, want start %v", i, w, want[i])
		}
	}
}
