package intake_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/ingest/internal/dedup"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
)

func failFast(t *testing.T, p intake.Producer, h *intake.Health) *intake.Intake {
	t.Helper()
	s, err := streamspec.Parse([]byte(`{"name":"s","type":"com.example.t.v1","entity_key":"/k","schema":{"type":"object","required":["k"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	return intake.New(intake.Config{MaxEventBytes: 1 << 10, MaxFuture: time.Minute, MaxPast: time.Hour, ProduceTimeout: 10 * time.Second, OutageTimeout: 100 * time.Millisecond, Health: h},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), lookup{s}, p, dedup.New(time.Minute, 100))
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, func() error {
		if !cond() {
			return errors.New(what + ": not yet")
		}
		return nil
	})
}

// TestFailFast: once the producer cannot connect, a request already waiting
// and those after it get Unavailable within the outage timeout, not the
// produce timeout; the first acknowledgement ends the outage.
func TestFailFast(t *testing.T) {
	p := &producer{hold: true}
	h := intake.NewHealth()
	in := failFast(t, p, h)
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		res := in.Submit(context.Background(), src, []intake.Item{item("1", `{"k":"a"}`)})
		if res[0].Outcome != intake.Unavailable {
			t.Errorf("%+v", res[0])
		}
		done <- time.Since(start)
	}()
	poll(t, "record handed to the producer", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.held) == 1 })
	h.OnBrokerConnect(kgo.BrokerMetadata{}, 0, nil, errors.New("connection refused"))
	if d := <-done; d > 2*time.Second {
		t.Fatalf("the waiting request answered after %v", d)
	}
	start := time.Now()
	res := in.Submit(context.Background(), src, []intake.Item{item("2", `{"k":"a"}`)})
	if res[0].Outcome != intake.Unavailable || time.Since(start) > 2*time.Second {
		t.Fatalf("during the outage: %+v after %v", res[0], time.Since(start))
	}
	p.release() // Kafka is back: the buffered records are acknowledged
	poll(t, "outage over", func() bool { return !h.Down() })
	if res := in.Submit(context.Background(), src, []intake.Item{item("3", `{"k":"a"}`)}); res[0].Outcome != intake.Accepted {
		t.Fatalf("after the outage: %+v", res[0])
	}
}

// TestFailFastKafka: the same with franz-go against a kfake broker that is
// shut down: the producer's failed connections make intake fail fast.
func TestFailFastKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "tributary.events.s"))
	if err != nil {
		t.Fatal(err)
	}
	h := intake.NewHealth()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.WithHooks(h), kgo.RecordDeliveryTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	in := failFast(t, cl, h)
	if res := in.Submit(context.Background(), src, []intake.Item{item("1", `{"k":"a"}`)}); res[0].Outcome != intake.Accepted {
		t.Fatalf("before the outage: %+v", res[0])
	}
	c.Close()
	for i, id := range []string{"2", "3", "4"} {
		start := time.Now()
		res := in.Submit(context.Background(), src, []intake.Item{item(id, `{"k":"a"}`)})
		if d := time.Since(start); res[0].Outcome != intake.Unavailable || d > 3*time.Second {
			t.Fatalf("request %d during the outage: %+v after %v (produce timeout 10s)", i, res[0], d)
		}
	}
}
