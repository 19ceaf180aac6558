// Package alerts publishes the monitor's alerts, drift
// (tributary.drift.detected.v1) and data-quality breaches
// (tributary.drift.quality_breached.v1), on NATS JetStream as CloudEvents,
// with an event id derived from the breach (model, version, feature, method
// or check, window), which is also the Nats-Msg-Id: a window computed again
// after a crash publishes the same id, and the stream drops the copy.
package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
)

// Source is the CloudEvents source of the monitor's events.
const Source = "tributary/monitor"

// Publisher publishes alerts.
type Publisher struct {
	js     func(context.Context) (jetstream.JetStream, error)
	prefix string
}

// NewPublisher publishes through the JetStream js returns, on subjects
// prefixed with prefix (tests).
func NewPublisher(js func(context.Context) (jetstream.JetStream, error), prefix string) *Publisher {
	return &Publisher{js: js, prefix: prefix}
}

// ID is the event id of a drift alert: the same breach of the same window
// always gets the same id.
func ID(d event.DriftDetected) string {
	h := sha256.Sum256([]byte(d.Model + "\x00" + strconv.Itoa(d.Version) + "\x00" + string(d.Target) + "\x00" + d.Feature + "\x00" + string(d.Metric) + "\x00" +
		d.WindowStart.UTC().Format(time.RFC3339Nano) + "\x00" + d.WindowEnd.UTC().Format(time.RFC3339Nano)))
	return "drift-" + hex.EncodeToString(h[:16])
}

// QualityID is the event id of a data-quality breach.
func QualityID(q event.DataQualityBreached) string {
	h := sha256.Sum256([]byte(q.Model + "\x00" + strconv.Itoa(q.Version) + "\x00" + string(q.Target) + "\x00" + q.Feature + "\x00" + q.Check + "\x00" +
		q.WindowStart.UTC().Format(time.RFC3339Nano) + "\x00" + q.WindowEnd.UTC().Format(time.RFC3339Nano)))
	return "quality-" + hex.EncodeToString(h[:16])
}

// Publish publishes each alert; it returns at the first failure (the
// caller retries them all: the ids make the retry idempotent).
func (p *Publisher) Publish(ctx context.Context, drift []event.DriftDetected, quality []event.DataQualityBreached) error {
	if len(drift) == 0 && len(quality) == 0 {
		return nil
	}
	js, err := p.js(ctx)
	if err != nil {
		return err
	}
	for _, a := range drift {
		if err := p.publish(ctx, js, event.TypeDriftDetected, ID(a), a.Model, a.WindowEnd, a); err != nil {
			return err
		}
	}
	for _, q := range quality {
		if err := p.publish(ctx, js, event.TypeDataQualityBreached, QualityID(q), q.Model, q.WindowEnd, q); err != nil {
			return err
		}
	}
	return nil
}

// PublishEvent publishes one event of type typ (a platform event type on
// NATS) whose id, also its Nats-Msg-Id, identifies the breach; subj is the
// CloudEvents subject (the model). Used for the performance and fairness
// alerts.
func (p *Publisher) PublishEvent(ctx context.Context, typ, id, subj string, at time.Time, data any) error {
	js, err := p.js(ctx)
	if err != nil {
		return err
	}
	return p.publish(ctx, js, typ, id, subj, at, data)
}

func (p *Publisher) publish(ctx context.Context, js jetstream.JetStream, typ, id, subj string, at time.Time, data any) error {
	subject, err := event.Subject(typ)
	if err != nil {
		return err
	}
	e := ce.New()
	e.SetID(id)
	e.SetSource(Source)
	e.SetType(typ)
	e.SetSubject(subj)
	e.SetTime(at.UTC())
	if err := e.SetData(ce.ApplicationJSON, data); err != nil {
		return fmt.Errorf("encode %s: %w", typ, err)
	}
	msg, err := event.ToNATSMsg(e, p.prefix+subject)
	if err != nil {
		return fmt.Errorf("encode %s: %w", typ, err)
	}
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish %s: %w", msg.Subject, err)
	}
	return nil
}
