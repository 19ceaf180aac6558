// Package alerts publishes the monitor's drift alerts
// (tributary.drift.detected.v1) on NATS JetStream as CloudEvents, with an
// event id derived from the breach (model, version, feature, method,
// window), which is also the Nats-Msg-Id: a window computed again after a
// crash publishes the same id, and the stream drops the copy.
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

// Publish publishes each alert; it returns at the first failure (the
// caller retries them all: the ids make the retry idempotent).
func (p *Publisher) Publish(ctx context.Context, alerts []event.DriftDetected) error {
	if len(alerts) == 0 {
		return nil
	}
	js, err := p.js(ctx)
	if err != nil {
		return err
	}
	subject, err := event.Subject(event.TypeDriftDetected)
	if err != nil {
		return err
	}
	for _, a := range alerts {
		id := ID(a)
		e := ce.New()
		e.SetID(id)
		e.SetSource(Source)
		e.SetType(event.TypeDriftDetected)
		e.SetSubject(a.Model)
		e.SetTime(a.WindowEnd.UTC())
		if err := e.SetData(ce.ApplicationJSON, a); err != nil {
			return fmt.Errorf("encode drift alert: %w", err)
		}
		msg, err := event.ToNATSMsg(e, p.prefix+subject)
		if err != nil {
			return fmt.Errorf("encode drift alert: %w", err)
		}
		if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
			return fmt.Errorf("publish %s: %w", msg.Subject, err)
		}
	}
	return nil
}
