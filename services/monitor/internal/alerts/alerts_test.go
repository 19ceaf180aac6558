package alerts_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/monitor/internal/alerts"
	"github.com/tributary-ml/tributary/services/monitor/internal/natstest"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

// TestPublishOncePerBreach publishes the same breach twice (a window
// computed again after a crash) and another breach: the stream keeps two
// events, each a CloudEvent of type drift.detected with the evidence.
func TestPublishOncePerBreach(t *testing.T) {
	js := natstest.JetStream(t)
	ctx := context.Background()
	p := alerts.NewPublisher(func(context.Context) (jetstream.JetStream, error) { return js, nil }, "")
	start := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	a := event.DriftDetected{Model: "churn", Version: 3, Target: event.DriftTargetFeature, Feature: "v:x", Metric: event.DriftPSI, Value: 0.4, Threshold: 0.2, WindowStart: start, WindowEnd: start.Add(5 * time.Minute), SampleSize: 500}
	b := a
	b.Metric, b.Value, b.Threshold = event.DriftKS, 0.001, 0.05
	q := event.DataQualityBreached{Model: "churn", Version: 3, Target: event.DriftTargetPrediction, Check: event.QualityMissing, Value: 0.3, Threshold: 0.1, WindowStart: start, WindowEnd: start.Add(5 * time.Minute), SampleSize: 500}
	for _, batch := range [][]event.DriftDetected{{a}, {a, b}} {
		if err := p.Publish(ctx, batch, []event.DataQualityBreached{q}); err != nil {
			t.Fatal(err)
		}
	}
	if alerts.ID(a) == alerts.ID(b) {
		t.Fatal("two breaches share an id")
	}
	c := a
	c.Value = 0.5 // the same breach computed again with other values
	if alerts.ID(a) != alerts.ID(c) {
		t.Fatal("the id depends on the value")
	}
	s, err := js.Stream(ctx, natsx.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("stream holds %d events, want 3", info.State.Msgs)
	}
	msg, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	e, err := event.FromNATSMsg(&nats.Msg{Subject: msg.Subject, Header: msg.Header, Data: msg.Data})
	if err != nil {
		t.Fatal(err)
	}
	if e.Type() != event.TypeDriftDetected || e.ID() != alerts.ID(a) || msg.Subject != "tributary.drift.detected" {
		t.Errorf("event %s %s on %s", e.Type(), e.ID(), msg.Subject)
	}
	v, err := event.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(e.Type(), e.Data()); err != nil {
		t.Errorf("the alert breaks its schema: %v", err)
	}
	msg, err = s.GetMsg(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	e, err = event.FromNATSMsg(&nats.Msg{Subject: msg.Subject, Header: msg.Header, Data: msg.Data})
	if err != nil {
		t.Fatal(err)
	}
	if e.Type() != event.TypeDataQualityBreached || e.ID() != alerts.QualityID(q) || msg.Subject != "tributary.drift.quality_breached" {
		t.Errorf("event %s %s on %s", e.Type(), e.ID(), msg.Subject)
	}
	if err := v.Validate(e.Type(), e.Data()); err != nil {
		t.Errorf("the quality alert breaks its schema: %v", err)
	}
}
