package service

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
)

func TestTracingOffIsNoop(t *testing.T) {
	tp, stop, err := newTracerProvider(context.Background(), TracingConfig{SampleRatio: 1}, "demo", "v0")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("t").Start(context.Background(), "op")
	if span.SpanContext().IsValid() {
		t.Error("tracing is off but spans are recorded")
	}
	span.End()
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTracingExportsOverOTLPHTTP(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	for _, endpoint := range []string{strings.TrimPrefix(collector.URL, "http://"), collector.URL + "/v1/traces"} {
		t.Run(endpoint, func(t *testing.T) {
			before := posts.Load()
			cfg := TracingConfig{OTLPEndpoint: endpoint, OTLPInsecure: true, SampleRatio: 1}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			tp, stop, err := newTracerProvider(context.Background(), cfg, "demo", "v0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, span := tp.Tracer("t").Start(context.Background(), "op")
			if !span.SpanContext().IsSampled() {
				t.Error("span not sampled at ratio 1")
			}
			carrier := propagation.MapCarrier{}
			NewPropagator().Inject(ctx, carrier)
			if !strings.HasPrefix(carrier.Get("traceparent"), "00-"+span.SpanContext().TraceID().String()) {
				t.Errorf("traceparent %q does not carry the span", carrier.Get("traceparent"))
			}
			span.End()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := stop(sctx); err != nil {
				t.Fatal(err)
			}
			if posts.Load() == before {
				t.Error("shutdown did not flush the span to the collector")
			}
		})
	}
}
