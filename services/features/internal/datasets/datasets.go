// Package datasets builds training sets on request: it consumes
// tributary.dataset.requested.v1 from the JetStream stream, computes the set
// with the offline store (the labels of a stream over a time range joined
// with the features as of each label's time), writes it as Parquet into the
// object store under its sha256, and publishes tributary.dataset.ready.v1.
package datasets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/services/features/internal/catalog"
	"github.com/tributary-ml/tributary/services/features/internal/offline"
)

// Source is the CloudEvents source of the events the service publishes.
const Source = "/tributary/features"

// ObjectPrefix starts the object names of training sets:
// datasets/<sha256>.parquet; datasets/requests/<request id>.json records the
// DatasetReady of a request so that a repeated request builds nothing new.
const ObjectPrefix = "datasets/"

// ErrBadRequest reports a request that can never succeed (unknown feature,
// empty range); it is not retried.
var ErrBadRequest = errors.New("bad dataset request")

// maxDeliver is how many times a request is tried before a failure that is
// not the request's fault (ClickHouse, the object store) is final.
const maxDeliver = 5

// Builder builds training sets.
type Builder struct {
	store  *offline.Store
	views  func() *catalog.Snapshot
	logger *slog.Logger
	prefix string // NATS resource prefix (tests)

	builds  *prometheus.CounterVec
	rows    prometheus.Counter
	seconds prometheus.Histogram
}

// NewBuilder returns a Builder.
func NewBuilder(store *offline.Store, views func() *catalog.Snapshot, logger *slog.Logger, reg prometheus.Registerer, prefix string) *Builder {
	f := promauto.With(reg)
	return &Builder{
		store: store, views: views, logger: logger, prefix: prefix,
		builds: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_features_datasets_total",
			Help: "Dataset requests handled, by outcome (built, repeated, bad_request, error).",
		}, []string{"outcome"}),
		rows: f.NewCounter(prometheus.CounterOpts{
			Name: "tributary_features_dataset_rows_total",
			Help: "Rows written into training sets.",
		}),
		seconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_features_dataset_build_duration_seconds",
			Help:    "Time to build and store one training set.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
	}
}

// Build computes the training set of req, stores it in obj and returns what
// DatasetReady announces.
func (b *Builder) Build(ctx context.Context, obj jetstream.ObjectStore, req event.DatasetRequested) (event.DatasetReady, error) {
	if req.RequestID == "" {
		return event.DatasetReady{}, fmt.Errorf("%w: request_id empty", ErrBadRequest)
	}
	recordName := ObjectPrefix + "requests/" + req.RequestID + ".json"
	if prev, err := obj.GetBytes(ctx, recordName); err == nil {
		var ready event.DatasetReady
		if json.Unmarshal(prev, &ready) == nil {
			b.builds.WithLabelValues("repeated").Inc()
			return ready, nil
		}
	}
	if !req.End.After(req.Start) {
		return event.DatasetReady{}, fmt.Errorf("%w: end %s is not after start %s", ErrBadRequest, req.End.Format(time.RFC3339), req.Start.Format(time.RFC3339))
	}
	if req.LabelStream == "" {
		return event.DatasetReady{}, fmt.Errorf("%w: label_stream empty", ErrBadRequest)
	}
	start := time.Now()
	refs, err := offline.ResolveRefs(b.views(), req.Features)
	if err != nil {
		return event.DatasetReady{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	labels, err := b.store.Labels(ctx, req.LabelStream, req.Start, req.End)
	if err != nil {
		return event.DatasetReady{}, err
	}
	set, err := b.store.Compute(ctx, refs, labels)
	if err != nil {
		return event.DatasetReady{}, err
	}
	var buf bytes.Buffer
	if err := set.WriteParquet(&buf); err != nil {
		return event.DatasetReady{}, err
	}
	sum := sha256.Sum256(buf.Bytes())
	sha := hex.EncodeToString(sum[:])
	name := ObjectPrefix + sha + ".parquet"
	if _, err := obj.Put(ctx, jetstream.ObjectMeta{Name: name, Description: "training set of " + req.LabelStream}, bytes.NewReader(buf.Bytes())); err != nil {
		return event.DatasetReady{}, fmt.Errorf("store training set: %w", err)
	}
	ready := event.DatasetReady{
		RequestID: req.RequestID, DatasetID: sha, Bucket: b.prefix + natsx.ObjectStoreArtifacts, ObjectName: name,
		SHA256: sha, RowCount: int64(len(set.Rows)), Features: req.Features, FeatureDefinitions: set.Versions(),
		LabelStream: req.LabelStream, Start: req.Start, End: req.End,
	}
	rec, err := json.Marshal(ready)
	if err != nil {
		return event.DatasetReady{}, fmt.Errorf("encode dataset record: %w", err)
	}
	if _, err := obj.PutBytes(ctx, recordName, rec); err != nil {
		return event.DatasetReady{}, fmt.Errorf("store dataset record: %w", err)
	}
	b.rows.Add(float64(len(set.Rows)))
	b.seconds.Observe(time.Since(start).Seconds())
	b.builds.WithLabelValues("built").Inc()
	b.logger.Info("training set built", "request_id", req.RequestID, "rows", len(set.Rows), "sha256", sha, "seconds", time.Since(start).Seconds())
	return ready, nil
}

// Consume handles requests from the JetStream stream until ctx ends: a
// durable consumer named durable (new requests only when it is created),
// each request acknowledged once its DatasetReady is published. A bad
// request is logged, counted, answered with tributary.dataset.failed.v1 and
// terminated; other failures are redelivered, and answered with
// tributary.dataset.failed.v1 (reason "error") at the last delivery.
func (b *Builder) Consume(ctx context.Context, js jetstream.JetStream, durable string) error {
	subject, err := event.Subject(event.TypeDatasetRequested)
	if err != nil {
		return err
	}
	obj, err := js.ObjectStore(ctx, b.prefix+natsx.ObjectStoreArtifacts)
	if err != nil {
		return fmt.Errorf("open object store: %w", err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, b.prefix+natsx.StreamName, jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: b.prefix + subject,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       10 * time.Minute,
		MaxDeliver:    maxDeliver,
	})
	if err != nil {
		return fmt.Errorf("dataset request consumer: %w", err)
	}
	for {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("fetch dataset requests: %w", err)
		}
		for msg := range batch.Messages() {
			b.handle(ctx, js, obj, msg)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (b *Builder) handle(ctx context.Context, js jetstream.JetStream, obj jetstream.ObjectStore, msg jetstream.Msg) {
	var req event.DatasetRequested
	e, err := event.FromJetStreamMsg(msg)
	if err == nil && e.Type() != event.TypeDatasetRequested {
		err = fmt.Errorf("type %q", e.Type())
	}
	if err == nil {
		// Strictly: a misspelt field must not build a set without it.
		err = model.UnmarshalStrict(e.Data(), &req)
	}
	if err != nil {
		b.builds.WithLabelValues("bad_request").Inc()
		b.logger.Error("dataset request undecodable", "error", err)
		failed := event.DatasetFailed{RequestID: req.RequestID, Reason: event.DatasetFailedUndecodable, Message: "undecodable dataset request: " + err.Error()}
		if failed.RequestID == "" && e != nil {
			failed.RequestID = e.ID()
		}
		b.fail(ctx, js, msg, failed)
		return
	}
	ready, err := b.Build(ctx, obj, req)
	if err == nil {
		err = b.publishReady(ctx, js, ready)
	}
	if err == nil {
		_ = msg.Ack()
		return
	}
	if errors.Is(err, ErrBadRequest) {
		b.builds.WithLabelValues("bad_request").Inc()
		b.logger.Error("dataset request refused", "request_id", req.RequestID, "error", err)
		b.fail(ctx, js, msg, failure(req, reasonOf(err), err))
		return
	}
	b.builds.WithLabelValues("error").Inc()
	if md, mdErr := msg.Metadata(); mdErr == nil && md.NumDelivered >= maxDeliver {
		b.logger.Error("dataset not built, giving up", "request_id", req.RequestID, "deliveries", md.NumDelivered, "error", err)
		b.fail(ctx, js, msg, failure(req, event.DatasetFailedError, err))
		return
	}
	b.logger.Warn("dataset not built, will retry", "request_id", req.RequestID, "error", err)
	_ = msg.NakWithDelay(5 * time.Second)
}

// reasonOf maps a refusal to the stable reason id of its DatasetFailed.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, offline.ErrUnknownView):
		return event.DatasetFailedUnknownView
	case errors.Is(err, offline.ErrUnknownFeature):
		return event.DatasetFailedUnknownFeature
	default:
		return event.DatasetFailedBadRequest
	}
}

// failure returns the DatasetFailed answering req.
func failure(req event.DatasetRequested, reason string, err error) event.DatasetFailed {
	id := req.RequestID
	if id == "" {
		id = "unknown"
	}
	return event.DatasetFailed{
		RequestID: id, Reason: reason, Message: err.Error(),
		Features: req.Features, LabelStream: req.LabelStream, Start: req.Start, End: req.End, JobID: req.JobID,
	}
}

// fail publishes failed and terminates msg; if the publication fails, msg is
// redelivered later, to fail again and publish then.
func (b *Builder) fail(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, failed event.DatasetFailed) {
	if len(failed.Message) > 4096 {
		failed.Message = failed.Message[:4096]
	}
	if failed.RequestID == "" {
		failed.RequestID = "unknown"
	}
	if err := b.publish(ctx, js, event.TypeDatasetFailed, "dataset-failed-"+failed.RequestID, failed.RequestID, failed); err != nil {
		b.logger.Warn("dataset failure not published, will retry", "request_id", failed.RequestID, "error", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	_ = msg.Term()
}

func (b *Builder) publishReady(ctx context.Context, js jetstream.JetStream, ready event.DatasetReady) error {
	return b.publish(ctx, js, event.TypeDatasetReady, "dataset-ready-"+ready.RequestID, ready.RequestID, ready)
}

func (b *Builder) publish(ctx context.Context, js jetstream.JetStream, typ, id, subj string, data any) error {
	e := ce.New()
	e.SetID(id)
	e.SetSource(Source)
	e.SetType(typ)
	e.SetSubject(subj)
	e.SetTime(time.Now().UTC())
	if err := e.SetData(ce.ApplicationJSON, data); err != nil {
		return fmt.Errorf("encode %s: %w", typ, err)
	}
	subject, err := event.Subject(typ)
	if err != nil {
		return err
	}
	msg, err := event.ToNATSMsg(e, b.prefix+subject)
	if err != nil {
		return fmt.Errorf("encode %s: %w", typ, err)
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publish %s: %w", typ, err)
	}
	return nil
}
