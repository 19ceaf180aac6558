package streams

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-ml/tributary/libs/natsx/natstest"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/libs/testkit"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

func def(name, typ string) []byte {
	return []byte(`{"name":"` + name + `","type":"` + typ + `","entity_key":"/k","schema":{"type":"object"}}`)
}

// ensured records the streams whose topics were created, failing while
// down is set.
type ensured struct {
	mu    sync.Mutex
	names []string
	down  bool
}

func (e *ensured) ensure(_ context.Context, s *streamspec.Stream) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.down {
		return errors.New("kafka down")
	}
	e.names = append(e.names, s.Name)
	return nil
}

func (e *ensured) has(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.names {
		if n == name {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, func() error {
		if !cond() {
			return errors.New(what + ": not yet")
		}
		return nil
	})
}

func TestWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "tributary_schemas"})
	if err != nil {
		t.Fatal(err)
	}
	// A value present before the watch starts.
	if _, err := kv.Put(ctx, "early", def("early", "com.example.early.v1")); err != nil {
		t.Fatal(err)
	}
	labels, _ := streamspec.Labels()
	file, _ := streamspec.Parse(def("orders", "com.example.order.v1"))
	var ens ensured
	r, err := New(slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), labels, []*streamspec.Stream{file}, ens.ensure, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.ByType("com.example.order.v1"); ok {
		t.Fatal("a stream is live before its topics were ensured")
	}
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	// Live, but the KV values not read yet: not loaded.
	select {
	case <-r.Loaded():
		t.Fatal("loaded before the watch delivered the bucket's values")
	default:
	}
	if r.Synced() {
		t.Fatal("synced before the watch delivered the bucket's values")
	}
	done := make(chan error)
	go func() { done <- r.Watch(ctx, func(context.Context) (jetstream.KeyValue, error) { return kv, nil }) }()
	waitFor(t, "sync", r.Synced)
	select {
	case <-r.Loaded():
	default:
		t.Fatal("synced but Loaded not closed")
	}
	for _, typ := range []string{"com.example.order.v1", "com.example.early.v1", "tributary.label.recorded.v1"} {
		if _, ok := r.ByType(typ); !ok {
			t.Errorf("type %s not live", typ)
		}
	}

	// A new stream is live once its topics exist, without a restart.
	kv.Put(ctx, "views", def("views", "com.example.view.v1"))
	waitFor(t, "views live", func() bool { _, ok := r.ByType("com.example.view.v1"); return ok })
	if !ens.has("views") {
		t.Fatal("views live before its topics were ensured")
	}
	// A change of type replaces the old one.
	kv.Put(ctx, "views", def("views", "com.example.view.v2"))
	waitFor(t, "views v2", func() bool { _, ok := r.ByType("com.example.view.v2"); return ok })
	if _, ok := r.ByType("com.example.view.v1"); ok {
		t.Error("the old type of views is still live")
	}
	// Refused: invalid, name differing from key, type of another stream.
	kv.Put(ctx, "bad", []byte(`{"name":"bad"}`))
	kv.Put(ctx, "other", def("someone", "com.example.x.v1"))
	kv.Put(ctx, "thief", def("thief", "com.example.order.v1"))
	// A KV value overrides the file of the same name.
	kv.Put(ctx, "orders", def("orders", "com.example.order.v9"))
	waitFor(t, "orders override", func() bool { _, ok := r.ByType("com.example.order.v9"); return ok })
	for _, n := range []string{"bad", "other", "someone", "thief"} {
		if _, ok := r.ByName(n); ok {
			t.Errorf("refused stream %s is live", n)
		}
	}
	// Deleting the KV value brings the file's definition back.
	kv.Delete(ctx, "orders")
	waitFor(t, "orders file again", func() bool { _, ok := r.ByType("com.example.order.v1"); return ok })
	// While topics cannot be created, a new stream waits; then goes live.
	ens.mu.Lock()
	ens.down = true
	ens.mu.Unlock()
	kv.Put(ctx, "late", def("late", "com.example.late.v1"))
	testkit.Never(t, 200*time.Millisecond, func() error {
		if _, ok := r.ByName("late"); ok {
			return errors.New("stream live although its topics could not be created")
		}
		return nil
	})
	ens.mu.Lock()
	ens.down = false
	ens.mu.Unlock()
	waitFor(t, "late live", func() bool { _, ok := r.ByName("late"); return ok })

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWithoutBucket: a registry of files only is loaded once its topics
// were ensured, not before.
func TestWithoutBucket(t *testing.T) {
	labels, _ := streamspec.Labels()
	var ens ensured
	r, err := New(slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), labels, nil, ens.ensure, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.WithoutBucket()
	if r.Synced() {
		t.Fatal("synced before Ensure")
	}
	if err := r.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Loaded():
	default:
		t.Fatal("not loaded after Ensure")
	}
}
