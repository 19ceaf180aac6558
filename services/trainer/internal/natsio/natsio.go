// Package natsio connects the trainer's pipeline to NATS: the features
// service's dataset request-and-answer events, the object store the
// training sets are in, the training specs in KV, and the platform events
// the trainer publishes.
package natsio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/pipeline"
)

// Publisher publishes platform events on the JetStream stream, as
// CloudEvents in binary mode; the event id is also the Nats-Msg-Id, so a
// republished event within the stream's duplicate window is dropped.
type Publisher struct {
	js     jetstream.JetStream
	prefix string
	source string
	v      *event.Validator
}

// NewPublisher returns a publisher; prefix is natsx.BootstrapConfig.Prefix.
// With a validator, every event's data is checked against its JSON Schema
// before it is sent.
func NewPublisher(js jetstream.JetStream, prefix string, v *event.Validator) *Publisher {
	return &Publisher{js: js, prefix: prefix, source: "/tributary/trainer", v: v}
}

// Publish publishes one event.
func (p *Publisher) Publish(ctx context.Context, eventType, id string, data any) error {
	msg, err := p.message(eventType, id, data)
	if err != nil {
		return err
	}
	if _, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish %s: %w", eventType, err)
	}
	return nil
}

func (p *Publisher) message(eventType, id string, data any) (*nats.Msg, error) {
	subject, err := event.Subject(eventType)
	if err != nil {
		return nil, err
	}
	e := ce.New()
	e.SetID(id)
	e.SetSource(p.source)
	e.SetType(eventType)
	e.SetTime(time.Now().UTC())
	if err := e.SetData(ce.ApplicationJSON, data); err != nil {
		return nil, fmt.Errorf("encode %s: %w", eventType, err)
	}
	if p.v != nil {
		if err := p.v.Validate(eventType, e.Data()); err != nil {
			return nil, fmt.Errorf("encode %s: %w", eventType, err)
		}
	}
	msg, err := event.ToNATSMsg(e, p.prefix+subject)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", eventType, err)
	}
	return msg, nil
}

// Datasets asks the features service for training sets over NATS and
// downloads them from the object store.
type Datasets struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	pub     *Publisher
	prefix  string
	timeout time.Duration
}

// NewDatasets returns the dataset client; timeout bounds one wait for an
// answer.
func NewDatasets(nc *nats.Conn, js jetstream.JetStream, pub *Publisher, prefix string, timeout time.Duration) *Datasets {
	return &Datasets{nc: nc, js: js, pub: pub, prefix: prefix, timeout: timeout}
}

var _ pipeline.Datasets = (*Datasets)(nil)

// Build publishes tributary.dataset.requested.v1 and waits for its answer.
// A tributary.dataset.failed.v1 whose reason is not "error" is bad input.
func (d *Datasets) Build(ctx context.Context, req event.DatasetRequested) (event.DatasetReady, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	readySubject, _ := event.Subject(event.TypeDatasetReady)
	failedSubject, _ := event.Subject(event.TypeDatasetFailed)
	readySubject, failedSubject = d.prefix+readySubject, d.prefix+failedSubject
	// Subscribe before asking, so the answer cannot be missed.
	ch := make(chan *nats.Msg, 64)
	subs := make([]*nats.Subscription, 0, 2)
	for _, s := range []string{readySubject, failedSubject} {
		sub, err := d.nc.ChanSubscribe(s, ch)
		if err != nil {
			return event.DatasetReady{}, fmt.Errorf("subscribe %s: %w", s, err)
		}
		subs = append(subs, sub)
	}
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	// Each ask is a new event (its id, the Nats-Msg-Id, is the request id
	// and the time of the ask), so the stream keeps it and the features
	// service sees it; the features service answers a repeated request id
	// with the first set (built once). Were the event id the request id, a
	// trainer resuming a job after a crash would ask again within the
	// stream's duplicate window (2 minutes), its request would be dropped
	// as a duplicate, and the answer it missed while it was down would
	// never come again: the job would wait out -datasets.timeout, again
	// and again, until the window passed.
	eventID := req.RequestID + "." + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := d.pub.Publish(ctx, event.TypeDatasetRequested, eventID, req); err != nil {
		return event.DatasetReady{}, err
	}
	for {
		select {
		case <-ctx.Done():
			return event.DatasetReady{}, fmt.Errorf("wait for training set %s (is the features service running?): %w", req.RequestID, ctx.Err())
		case m := <-ch:
			e, err := event.FromNATSMsg(m)
			if err != nil {
				continue
			}
			switch e.Type() {
			case event.TypeDatasetReady:
				var r event.DatasetReady
				if json.Unmarshal(e.Data(), &r) == nil && r.RequestID == req.RequestID {
					return r, nil
				}
			case event.TypeDatasetFailed:
				var f event.DatasetFailed
				if json.Unmarshal(e.Data(), &f) == nil && f.RequestID == req.RequestID {
					err := fmt.Errorf("training set %s failed: %s: %s", req.RequestID, f.Reason, f.Message)
					if f.Reason != event.DatasetFailedError {
						err = fmt.Errorf("%w: %w", pipeline.ErrBadInput, err)
					}
					return event.DatasetReady{}, err
				}
			}
		}
	}
}

// Download writes the training set to path.
func (d *Datasets) Download(ctx context.Context, ready event.DatasetReady, path string) error {
	obs, err := d.js.ObjectStore(ctx, ready.Bucket)
	if err != nil {
		return fmt.Errorf("object store %s: %w", ready.Bucket, err)
	}
	if err := obs.GetFile(ctx, ready.ObjectName, path); err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("%w: training set %s is gone from the object store", pipeline.ErrBadInput, ready.ObjectName)
		}
		return fmt.Errorf("download %s: %w", ready.ObjectName, err)
	}
	return nil
}

// Specs reads the training specs from the KV bucket.
type Specs struct{ KV jetstream.KeyValue }

// Load reads a model's applied spec.
func (s Specs) Load(ctx context.Context, model string) (trainspec.Stored, error) {
	return trainspec.Load(ctx, s.KV, model)
}
