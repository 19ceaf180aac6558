// Package lifecycle publishes the registry's model lifecycle events
// (tributary.model.registered.v1, alias_moved.v1, archived.v1) to the
// JetStream stream TRIBUTARY as CloudEvents in NATS binary mode.
//
// The registry publishes after the KV write succeeded. Each event's id is
// derived from the state it reports (model/<name>/v/<n>/registered,
// model/<name>/alias/<alias>/<revision>, model/<name>/v/<n>/archived) and is
// also the Nats-Msg-Id, so a retried publish is dropped by the stream's
// duplicate window instead of delivered twice. A publish is tried a few
// times; when all attempts fail, the write stands (the KV is the source of
// truth), the failure is logged and counted, and consumers that must not
// miss a change (serving) also watch the KV bucket. Delivery to the stream
// is therefore at-least-once while JetStream answers, and the event may be
// missing when JetStream is unavailable for longer than the retries.
package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.opentelemetry.io/otel/propagation"

	"github.com/tributary-ml/tributary/libs/event"
)

// Source is the CloudEvents source of the registry's events.
const Source = "/tributary/registry"

// Publisher publishes lifecycle events.
type Publisher struct {
	js         jetstream.JetStream
	prefix     string
	propagator propagation.TextMapPropagator
	logger     *slog.Logger
	attempts   int
	backoff    time.Duration
	published  *prometheus.CounterVec
}

// Option configures a Publisher.
type Option func(*Publisher)

// WithRetry sets how many times a publish is tried (default 4) and the
// first backoff between attempts (default 250ms, doubling).
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(p *Publisher) { p.attempts, p.backoff = max(attempts, 1), backoff }
}

// NewPublisher returns a publisher on js; prefix is the test resource
// prefix of the subjects (natsx.BootstrapConfig.Prefix).
func NewPublisher(js jetstream.JetStream, prefix string, propagator propagation.TextMapPropagator, logger *slog.Logger, reg prometheus.Registerer, opts ...Option) *Publisher {
	p := &Publisher{
		js: js, prefix: prefix, propagator: propagator, logger: logger,
		attempts: 4, backoff: 250 * time.Millisecond,
		published: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_registry_events_published_total",
			Help: "Lifecycle events published to JetStream, by event type and outcome (ok, failed).",
		}, []string{"type", "outcome"}),
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Counter is tributary_registry_events_published_total, by type and
// outcome.
func (p *Publisher) Counter() *prometheus.CounterVec { return p.published }

// Publish publishes data as an event of eventType with the given id; the
// model name is the CloudEvents subject. It returns the last error when
// every attempt failed.
func (p *Publisher) Publish(ctx context.Context, eventType, id, modelName string, data any) error {
	err := p.publish(ctx, eventType, id, modelName, data)
	outcome := "ok"
	if err != nil {
		outcome = "failed"
		p.logger.Error("lifecycle event not published", "type", eventType, "event_id", id, "model", modelName, "err", err)
	}
	p.published.WithLabelValues(eventType, outcome).Inc()
	return err
}

func (p *Publisher) publish(ctx context.Context, eventType, id, modelName string, data any) error {
	e := ce.New()
	e.SetID(id)
	e.SetSource(Source)
	e.SetType(eventType)
	e.SetSubject(modelName)
	e.SetTime(time.Now().UTC())
	if err := e.SetData(ce.ApplicationJSON, data); err != nil {
		return fmt.Errorf("encode %s: %w", eventType, err)
	}
	if p.propagator != nil {
		if err := event.InjectTrace(ctx, p.propagator, &e); err != nil {
			return fmt.Errorf("inject trace: %w", err)
		}
	}
	subject, err := event.Subject(eventType)
	if err != nil {
		return err
	}
	msg, err := event.ToNATSMsg(e, p.prefix+subject)
	if err != nil {
		return fmt.Errorf("encode %s: %w", eventType, err)
	}
	var lastErr error
	for attempt := 0; attempt < p.attempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("publish %s: %w (last error: %v)", msg.Subject, ctx.Err(), lastErr)
			case <-time.After(p.backoff << (attempt - 1)):
			}
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, lastErr = p.js.PublishMsg(actx, msg, jetstream.WithMsgID(id))
		cancel()
		if lastErr == nil {
			return nil
		}
	}
	return fmt.Errorf("publish %s after %d attempts: %w", msg.Subject, p.attempts, lastErr)
}
