package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/natsx/natstest"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/ingest/internal/streams"
)

// TestStreamsLoading: right after a start, before the watch of the KV
// bucket has delivered its values, ingest does not judge types. An event
// of a KV stream (and of a file stream, which a KV value may override) is
// answered 503 unavailable with Retry-After, never 400 unknown_type, which
// a producer would drop. Once loaded, the KV stream's event is accepted
// and an unknown type is refused.
func TestStreamsLoading(t *testing.T) {
	ns := natstest.Start(t)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: natsx.BucketSchemas})
	if err != nil {
		t.Fatal(err)
	}
	const viewType = "com.example.test.view.v1"
	if _, err := kv.Put(ctx, "views", []byte(`{"name":"views","type":"`+viewType+`","entity_key":"/k","schema":{"type":"object"}}`)); err != nil {
		t.Fatal(err)
	}

	var reg *streams.Registry
	f := newFixtureStreams(t, func(r *streams.Registry) { reg = r })
	release := make(chan struct{}) // the initial load is blocked until closed
	done := make(chan error, 1)
	go func() {
		done <- reg.Watch(ctx, func(ctx context.Context) (jetstream.KeyValue, error) {
			select {
			case <-release:
				return kv, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
	}()

	view := func(id string) request {
		return request{contentType: structured, body: click(id, `{"k":"a"}`, map[string]any{"type": viewType})}
	}
	for name, req := range map[string]request{
		"kv stream":   view("loading-1"),
		"file stream": {contentType: structured, body: click("loading-2", goodData("u"), nil)},
	} {
		status, hdr, body := f.post(t, req)
		var b httperror.Body
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatalf("%s: %s: %v", name, body, err)
		}
		if status != http.StatusServiceUnavailable || b.Reason != reason.Unavailable || hdr.Get("Retry-After") != "1" {
			t.Errorf("%s before the streams are loaded: %d Retry-After=%q %s; want 503 unavailable with Retry-After 1", name, status, hdr.Get("Retry-After"), body)
		}
	}
	select {
	case <-reg.Loaded():
		t.Fatal("Loaded closed before the watch delivered the bucket's values")
	default:
	}

	close(release)
	select {
	case <-reg.Loaded():
	case <-time.After(10 * time.Second):
		t.Fatal("streams not loaded 10s after the watch could start")
	}
	if status, _, body := f.post(t, view("loading-1")); status != http.StatusAccepted {
		t.Errorf("the KV stream's event once loaded: %d %s, want 202", status, body)
	}
	status, _, body := f.post(t, request{contentType: structured, body: click("loading-3", goodData("u"), map[string]any{"type": "com.example.nope.v1"})})
	var b httperror.Body
	_ = json.Unmarshal(body, &b)
	if status != http.StatusBadRequest || b.Reason != reason.UnknownType {
		t.Errorf("an unknown type once loaded: %d %s, want 400 unknown_type", status, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
