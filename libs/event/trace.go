package event

import (
	"context"
	"errors"
	"fmt"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"go.opentelemetry.io/otel/propagation"
)

// Extensions of the CloudEvents distributed tracing extension, holding the
// W3C trace context.
const (
	TraceParentExtension = "traceparent"
	TraceStateExtension  = "tracestate"
)

// InjectTrace puts the span context of ctx into e's traceparent and tracestate
// extensions, as p (usually propagation.TraceContext{}) renders them. When ctx
// carries no span p writes nothing and e keeps the extensions it has.
func InjectTrace(ctx context.Context, p propagation.TextMapPropagator, e *ce.Event) error {
	if e.Context == nil {
		return errors.New("inject trace: event has no context")
	}
	carrier := propagation.MapCarrier{}
	p.Inject(ctx, carrier)
	parent := carrier.Get(TraceParentExtension)
	if parent == "" {
		return nil
	}
	if err := e.Context.SetExtension(TraceParentExtension, parent); err != nil {
		return fmt.Errorf("set %s extension: %w", TraceParentExtension, err)
	}
	// A stale tracestate must not ride along with a new traceparent.
	var state any
	if s := carrier.Get(TraceStateExtension); s != "" {
		state = s
	}
	if err := e.Context.SetExtension(TraceStateExtension, state); err != nil {
		return fmt.Errorf("set %s extension: %w", TraceStateExtension, err)
	}
	return nil
}

// ExtractTrace returns ctx with the remote span context in e's traceparent and
// tracestate extensions, as p reads them; ctx unchanged when e has none.
func ExtractTrace(ctx context.Context, p propagation.TextMapPropagator, e ce.Event) context.Context {
	if e.Context == nil {
		return ctx
	}
	carrier := propagation.MapCarrier{}
	for _, name := range []string{TraceParentExtension, TraceStateExtension} {
		v, ok := e.Extensions()[name]
		if !ok {
			continue
		}
		if s, err := types.ToString(v); err == nil {
			carrier.Set(name, s)
		}
	}
	if len(carrier) == 0 {
		return ctx
	}
	return p.Extract(ctx, carrier)
}
