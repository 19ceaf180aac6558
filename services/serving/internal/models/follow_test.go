package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx/natstest"
	"github.com/tributary-ml/tributary/libs/testkit"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

func kvBucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an embedded nats-server")
	}
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "models", History: 8})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// flaky fails the first n opens as the object store does when it is down.
type flaky struct {
	n     atomic.Int32
	model []byte
}

func (f *flaky) OpenArtifact(context.Context, model.Artifact) (io.ReadCloser, error) {
	if f.n.Add(-1) >= 0 {
		return nil, errors.New("nats: timeout")
	}
	return io.NopCloser(bytesReader(f.model)), nil
}

func put(t *testing.T, kv jetstream.KeyValue, key string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if _, err := kv.Put(context.Background(), key, b); err != nil {
		t.Fatal(err)
	}
}

// TestFollowerRetriesTransientFailures: a version whose artifact could not
// be read is retried while the alias wants it, then served; the goroutines
// end with Run.
func TestFollowerRetriesTransientFailures(t *testing.T) {
	kv := kvBucket(t)
	old := RetryDelay
	RetryDelay = 50 * time.Millisecond
	t.Cleanup(func() { RetryDelay = old })
	raw := file(t, "../../../../libs/learn/lightgbm/testdata/binary.txt")
	st := &flaky{model: raw}
	st.n.Store(2)
	v := model.Version{Model: "m", Version: 1, Format: "lightgbm", Artifact: model.Artifact{SHA256: "x", Size: int64(len(raw))},
		Lineage: model.Lineage{Features: refs("v", treeFeatures...)}, Status: model.StatusActive}
	put(t, kv, model.VersionKey("m", 1), v)
	put(t, kv, model.AliasKey("m", "production"), model.Alias{Model: "m", Name: "production", Version: 1})
	f := NewFollower(func(context.Context) (jetstream.KeyValue, error) { return kv, nil }, st, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	testkit.Eventually(t, 10*time.Second, func() error {
		m, ok := f.Snapshot().Model("m")
		if !ok || m.Routes["production"] == nil {
			return fmt.Errorf("production not served yet: %+v", m)
		}
		return nil
	})
	if st.n.Load() >= 0 {
		t.Errorf("served without the failures: %d left", st.n.Load())
	}
	select {
	case <-f.Ready():
	default:
		t.Error("not ready")
	}
	if n := testutil.ToFloat64(f.served); n != 1 {
		t.Errorf("tributary_serving_versions_loaded %v, want 1", n)
	}
	// Archiving drops it: out of memory, routed by no alias, the version
	// known as archived (so that a request for it is told so).
	v.Status = model.StatusArchived
	put(t, kv, model.VersionKey("m", 1), v)
	testkit.Eventually(t, 10*time.Second, func() error {
		if m, _ := f.Snapshot().Model("m"); len(m.Loaded) != 0 || len(m.Routes) != 0 || m.Known[1] != model.StatusArchived {
			return fmt.Errorf("archived version still served: %+v", m)
		}
		if n := testutil.ToFloat64(f.served); n != 0 {
			return fmt.Errorf("tributary_serving_versions_loaded %v, want 0", n)
		}
		return nil
	})

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
