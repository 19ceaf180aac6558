package state_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/monitor/internal/natstest"
	"github.com/tributary-ml/tributary/services/monitor/internal/state"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

func TestLoadSave(t *testing.T) {
	js := natstest.JetStream(t)
	ctx := context.Background()
	kv, err := js.CreateOrUpdateKeyValue(ctx, state.BucketConfig("", 1, true))
	if err != nil {
		t.Fatal(err)
	}
	open := func(context.Context) (jetstream.KeyValue, error) { return kv, nil }
	s := state.NewStore(open, "tributary-monitor")
	other := state.NewStore(open, "group with spaces/and:colons")
	if b, err := s.Load(ctx); err != nil || b != nil {
		t.Fatalf("empty bucket: %q, %v", b, err)
	}
	for _, v := range []string{`{"version":1}`, `{"version":1,"windows":[]}`} {
		if err := s.Save(ctx, []byte(v)); err != nil {
			t.Fatal(err)
		}
		if b, err := s.Load(ctx); err != nil || string(b) != v {
			t.Fatalf("load: %q, %v; want %q", b, err, v)
		}
	}
	if err := other.Save(ctx, []byte("x")); err != nil {
		t.Fatalf("a group name that is no KV key: %v", err)
	}
	if b, _ := s.Load(ctx); string(b) != `{"version":1,"windows":[]}` {
		t.Fatalf("another group's snapshot overwrote this one's: %q", b)
	}
}
