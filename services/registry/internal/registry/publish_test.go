package registry_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/services/registry/internal/lifecycle"
	"github.com/tributary-ml/tributary/services/registry/internal/registry"
	"github.com/tributary-ml/tributary/services/registry/internal/registrytest"
)

// When no stream takes the events, the change still stands, and the failed
// publish is counted.
func TestPublishFailureKeepsTheChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	// Subjects under a prefix no stream captures: every publish fails.
	pub := lifecycle.NewPublisher(f.js, "nostream"+registrytest.RandomID(t)+"_", nil, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, lifecycle.WithRetry(3, 10*time.Millisecond))
	r := registry.New(f.st, pub, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	name := registrytest.ModelName(t)
	a := registrytest.PutBytes(t, f.st, []byte("unannounced"))
	v, err := r.Register(ctx, registrytest.Request(name, a, ""))
	if err != nil || v.Version != 1 {
		t.Fatalf("register with the stream unavailable: %+v, %v", v, err)
	}
	if got, err := f.reg.Version(ctx, name, "1"); err != nil || got.Artifact != a {
		t.Fatalf("version not stored: %+v, %v", got, err)
	}
	failed := testutil.ToFloat64(pub.Counter().WithLabelValues(event.TypeModelRegistered, "failed"))
	if failed != 1 {
		t.Fatalf("failed publishes counted: %v, want 1", failed)
	}
	if n := testutil.ToFloat64(pub.Counter().WithLabelValues(event.TypeModelRegistered, "ok")); n != 0 {
		t.Fatalf("ok publishes counted: %v", n)
	}
	if out, _ := testutil.GatherAndCount(reg, "tributary_registry_operations_total"); out == 0 {
		t.Fatal("operations not counted")
	}
}
