package event_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tributary-ml/tributary/libs/event"
)

func TestTraceRoundTrip(t *testing.T) {
	p := propagation.TraceContext{}
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	state, err := trace.ParseTraceState("vendor=abc, other=x y")
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, TraceState: state,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)

	e := minimalEvent("traced")
	if err := event.InjectTrace(ctx, p, &e); err != nil {
		t.Fatalf("InjectTrace: %v", err)
	}
	if got := e.Extensions()[event.TraceParentExtension]; got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("traceparent = %v", got)
	}
	if got := e.Extensions()[event.TraceStateExtension]; got != "vendor=abc,other=x y" {
		t.Errorf("tracestate = %v", got)
	}

	// Across both wires and back.
	rec, err := event.ToKafkaRecord(context.Background(), e, "t")
	if err != nil {
		t.Fatal(err)
	}
	fromKafka, err := event.FromKafkaRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := event.ToNATSMsg(*fromKafka, "s")
	if err != nil {
		t.Fatal(err)
	}
	fromNATS, err := event.FromNATSMsg(msg)
	if err != nil {
		t.Fatal(err)
	}
	got := trace.SpanContextFromContext(event.ExtractTrace(context.Background(), p, *fromNATS))
	if !got.IsRemote() || got.TraceID() != traceID || got.SpanID() != spanID || !got.IsSampled() {
		t.Errorf("extracted span context %+v, want trace %s span %s sampled and remote", got, traceID, spanID)
	}
	if got.TraceState().String() != state.String() {
		t.Errorf("tracestate %q, want %q", got.TraceState().String(), state.String())
	}
}

func TestTraceWithoutSpan(t *testing.T) {
	p := propagation.TraceContext{}
	e := minimalEvent("untraced")
	if err := event.InjectTrace(context.Background(), p, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Extensions()) != 0 {
		t.Errorf("extensions %v after injecting no span", e.Extensions())
	}
	ctx := event.ExtractTrace(context.Background(), p, e)
	if trace.SpanContextFromContext(ctx).IsValid() {
		t.Error("span context extracted from an event without one")
	}

	// A new span replaces a stale tracestate rather than keeping it.
	e.SetExtension(event.TraceStateExtension, "stale=1")
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx = trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID}))
	if err := event.InjectTrace(ctx, p, &e); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Extensions()[event.TraceStateExtension]; ok {
		t.Errorf("stale tracestate kept: %v", e.Extensions())
	}
	if e.Extensions()[event.TraceParentExtension] != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00" {
		t.Errorf("traceparent = %v", e.Extensions()[event.TraceParentExtension])
	}
}
