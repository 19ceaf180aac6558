package alerts_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/services/monitor/internal/alerts"
	"github.com/tributary-ml/tributary/services/monitor/internal/natstest"
	"github.com/tributary-ml/tributary/services/monitor/internal/performance"
)

// TestPublishEventOncePerBreach publishes a fairness breach twice with its
// id (a window recomputed after a crash): the stream keeps one event, which
// validates against its schema.
func TestPublishEventOncePerBreach(t *testing.T) {
	js := natstest.JetStream(t)
	ctx := context.Background()
	p := alerts.NewPublisher(func(context.Context) (jetstream.JetStream, error) { return js, nil }, "")
	start := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	f := event.FairnessBreached{Model: "churn", Version: 3, Route: "canary", Attribute: "req:g", Metric: event.FairnessDemographicParity, Value: 0.3, Threshold: 0.1,
		WindowStart: start, WindowEnd: start.Add(time.Hour), SampleSize: 500, Groups: []string{"0", "1"}}
	for range 2 {
		if err := p.PublishEvent(ctx, event.TypeFairnessBreached, performance.FairnessID(f), f.Model, f.WindowEnd, f); err != nil {
			t.Fatal(err)
		}
	}
	s, err := js.Stream(ctx, natsx.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d events, want 1", info.State.Msgs)
	}
	msg, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "tributary.performance.fairness_breached" {
		t.Errorf("subject %s", msg.Subject)
	}
	e, err := event.FromNATSMsg(&nats.Msg{Subject: msg.Subject, Header: msg.Header, Data: msg.Data})
	if err != nil {
		t.Fatal(err)
	}
	v, err := event.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(e.Type(), e.Data()); err != nil || e.ID() != performance.FairnessID(f) {
		t.Errorf("event %s %s: %v", e.Type(), e.ID(), err)
	}
}
