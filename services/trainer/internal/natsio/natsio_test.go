package natsio_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/services/trainer/internal/natsio"
	"github.com/tributary-ml/tributary/services/trainer/internal/pipeline"
	"github.com/tributary-ml/tributary/services/trainer/internal/trainertest"
)

func TestDatasetsRoundTrip(t *testing.T) {
	e := trainertest.StartEmbedded(t)
	nc, js := e.Connect()
	v, err := event.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	pub := natsio.NewPublisher(js, "", v)
	// A features service stand-in: answers by request id.
	answer := func(eventType string, data any) {
		if err := pub.Publish(context.Background(), eventType, "answer-"+time.Now().Format(time.RFC3339Nano), data); err != nil {
			t.Error(err)
		}
	}
	sub, err := nc.Subscribe("tributary.dataset.requested", func(m *nats.Msg) {
		ev, err := event.FromNATSMsg(m)
		if err != nil {
			t.Error(err)
			return
		}
		var req event.DatasetRequested
		_ = json.Unmarshal(ev.Data(), &req)
		// An answer to someone else's request first: ignored.
		answer(event.TypeDatasetFailed, event.DatasetFailed{RequestID: "other", Reason: event.DatasetFailedBadRequest, Message: "not yours"})
		switch req.RequestID {
		case "ok":
			answer(event.TypeDatasetReady, event.DatasetReady{RequestID: "ok", DatasetID: strings.Repeat("a", 64), Bucket: natsx.ObjectStoreArtifacts, ObjectName: "datasets/x.parquet", SHA256: strings.Repeat("a", 64), RowCount: 3, Features: req.Features, FeatureDefinitions: map[string]string{"v": "1"}, LabelStream: req.LabelStream, Start: req.Start, End: req.End})
		case "bad":
			answer(event.TypeDatasetFailed, event.DatasetFailed{RequestID: "bad", Reason: event.DatasetFailedUnknownFeature, Message: `unknown feature "v:zz"`})
		case "flaky":
			answer(event.TypeDatasetFailed, event.DatasetFailed{RequestID: "flaky", Reason: event.DatasetFailedError, Message: "clickhouse down"})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	d := natsio.NewDatasets(nc, js, pub, "", 2*time.Second)
	ctx := context.Background()
	end := time.Now().UTC().Truncate(time.Millisecond)
	req := func(id string) event.DatasetRequested {
		return event.DatasetRequested{RequestID: id, Features: []string{"v:a"}, LabelStream: "l", Start: end.Add(-time.Hour), End: end, JobID: "j"}
	}
	ready, err := d.Build(ctx, req("ok"))
	if err != nil || ready.RowCount != 3 || ready.Features[0] != "v:a" || !ready.End.Equal(end) {
		t.Fatalf("ok: %+v %v", ready, err)
	}
	_, err = d.Build(ctx, req("bad"))
	if !errors.Is(err, pipeline.ErrBadInput) || !strings.Contains(err.Error(), `unknown_feature: unknown feature "v:zz"`) {
		t.Errorf("bad: %v", err)
	}
	_, err = d.Build(ctx, req("flaky"))
	if err == nil || errors.Is(err, pipeline.ErrBadInput) || !strings.Contains(err.Error(), "clickhouse down") {
		t.Errorf("flaky: %v, want a transient error", err)
	}
	_, err = d.Build(ctx, req("silent"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "is the features service running?") {
		t.Errorf("silent: %v", err)
	}

	// Download from the object store; a missing object is bad input.
	obs, err := js.ObjectStore(ctx, natsx.ObjectStoreArtifacts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.PutBytes(ctx, "datasets/x.parquet", []byte("PAR1 data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.parquet")
	if err := d.Download(ctx, ready, path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "PAR1 data" {
		t.Errorf("downloaded %q", b)
	}
	ready.ObjectName = "datasets/gone.parquet"
	if err := d.Download(ctx, ready, path); !errors.Is(err, pipeline.ErrBadInput) {
		t.Errorf("missing object: %v", err)
	}
}

func TestPublisherChecksTheSchema(t *testing.T) {
	e := trainertest.StartEmbedded(t)
	_, js := e.Connect()
	v, err := event.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	pub := natsio.NewPublisher(js, "", v)
	err = pub.Publish(context.Background(), event.TypeTrainStarted, "x", event.TrainStarted{JobID: "j", Model: "bad name!", Trigger: event.TriggerManual, Runner: "go"})
	if err == nil || !strings.Contains(err.Error(), "model") {
		t.Errorf("invalid event published: %v", err)
	}
	if err := pub.Publish(context.Background(), event.TypeTrainStarted, "y", event.TrainStarted{JobID: "j", Model: "m", Trigger: event.TriggerManual, Runner: "go"}); err != nil {
		t.Errorf("valid event: %v", err)
	}
}
