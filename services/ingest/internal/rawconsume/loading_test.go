package rawconsume_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/ingest/internal/dedup"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
	"github.com/tributary-ml/tributary/services/ingest/internal/kafkatest"
	"github.com/tributary-ml/tributary/services/ingest/internal/rawconsume"
)

// kvLookup stands for the registry of a KV stream: until loaded it knows
// no stream (its definitions are not read yet).
type kvLookup struct {
	lookup
	loaded *atomic.Bool
}

func (l kvLookup) Synced() bool { return l.loaded.Load() }

func (l kvLookup) ByType(t string) (*streamspec.Stream, bool) {
	if !l.loaded.Load() {
		return nil, false
	}
	return l.lookup.ByType(t)
}

// TestNotLoaded: a raw record read before the stream definitions are
// loaded is neither dead-lettered (unknown_type) nor committed: it is
// retried, and written to its stream once they are.
func TestNotLoaded(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.Prefix()
	topics := kafkatest.Topics(t, brokers, prefix, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	views := mustParse(t, `{"name":"views","type":"com.example.raw.view.v1","entity_key":"/user","schema":{"type":"object"}}`)
	var specs []kafkax.TopicSpec
	for _, n := range []string{event.TopicDLQ, views.Topic, event.IngestTopic("views")} {
		specs = append(specs, topics.Topic(n))
	}
	if _, err := kafkax.EnsureTopics(ctx, adm, specs...); err != nil {
		t.Fatal(err)
	}
	raw := prefix + event.IngestTopic("views")
	var loaded atomic.Bool
	in := intake.New(intake.Config{MaxEventBytes: 1 << 20, MaxFuture: time.Minute, MaxPast: time.Hour, ProduceTimeout: 10 * time.Second, TopicPrefix: prefix},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(),
		kvLookup{lookup{views.Type: views}, &loaded}, cl, dedup.New(time.Minute, 100))
	if err := cl.ProduceSync(ctx, record(t, raw, "v-1", views.Type, `{"user":"alice"}`)).FirstErr(); err != nil {
		t.Fatal(err)
	}

	group := prefix + "group"
	ccl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers)}, rawconsume.Opts(group, prefix, 5*time.Second)...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer ccl.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() {
		done <- rawconsume.New(ccl, in, slog.New(slog.NewTextHandler(io.Discard, nil)), prefix).Run(runCtx)
	}()
	committed := func(ctx context.Context) (int64, error) {
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return 0, err
		}
		o, _ := offs.Lookup(raw, 0)
		return o.At, nil
	}
	testkit.Never(t, 2*time.Second, func() error {
		if at, err := committed(ctx); err == nil && at > 0 {
			return errors.New("offset committed before the streams were loaded")
		}
		return nil
	})
	loaded.Store(true)
	good := kafkatest.Read(t, brokers, prefix+views.Topic, 1, 30*time.Second, 200*time.Millisecond)
	if len(good) != 1 || string(good[0].Key) != "alice" {
		t.Fatalf("stream topic after the load: %v", good)
	}
	if dlq := kafkatest.Read(t, brokers, prefix+event.TopicDLQ, 0, time.Second, 500*time.Millisecond); len(dlq) != 0 {
		t.Errorf("dead-lettered: %d records", len(dlq))
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
