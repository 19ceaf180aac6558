package rawconsume_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/ingest/internal/dedup"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
	"github.com/tributary-ml/tributary/services/ingest/internal/kafkatest"
	"github.com/tributary-ml/tributary/services/ingest/internal/rawconsume"
)

type lookup map[string]*streamspec.Stream

// panicType stands for any bug an input could trigger: looking it up panics.
const panicType = "com.example.raw.panic.v1"

func (lookup) Synced() bool { return true }

func (l lookup) ByType(t string) (*streamspec.Stream, bool) {
	if t == panicType {
		panic("boom")
	}
	s, ok := l[t]
	return s, ok
}

func mustParse(t *testing.T, def string) *streamspec.Stream {
	s, err := streamspec.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func record(t *testing.T, topic, id, typ, data string) *kgo.Record {
	e := ce.NewEvent()
	e.SetID(id)
	e.SetSource("/raw/test")
	e.SetType(typ)
	e.SetTime(time.Now())
	if err := e.SetData("application/json", []byte(data)); err != nil {
		t.Fatal(err)
	}
	r, err := event.ToKafkaRecord(context.Background(), e, topic)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRawTopics: records on tributary.ingest.<stream> are validated and
// routed like HTTP events, and the group's offsets are committed once they
// are written.
func TestRawTopics(t *testing.T) {
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
	clicks := mustParse(t, `{"name":"clicks","type":"com.example.raw.click.v1","entity_key":"/user","schema":{"type":"object","required":["user"],"properties":{"price":{"type":"number","minimum":0}}}}`)
	views := mustParse(t, `{"name":"views","type":"com.example.raw.view.v1","entity_key":"/user","schema":{"type":"object"}}`)
	var specs []kafkax.TopicSpec
	for _, n := range []string{event.TopicDLQ, clicks.Topic, views.Topic, event.IngestTopic("clicks"), event.IngestTopic("views")} {
		specs = append(specs, topics.Topic(n))
	}
	if _, err := kafkax.EnsureTopics(ctx, adm, specs...); err != nil {
		t.Fatal(err)
	}
	raw := prefix + event.IngestTopic("clicks")
	in := intake.New(intake.Config{MaxEventBytes: 1 << 20, MaxFuture: time.Minute, MaxPast: time.Hour, ProduceTimeout: 10 * time.Second, TopicPrefix: prefix},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(),
		lookup{clicks.Type: clicks, views.Type: views}, cl, dedup.New(time.Minute, 100))

	recs := []*kgo.Record{
		record(t, raw, "r-1", clicks.Type, `{"user":"alice"}`),
		record(t, raw, "r-bad", clicks.Type, `{"nouser":1}`),
		record(t, raw, "r-other", views.Type, `{"user":"bob"}`), // a view on the clicks topic
		{Topic: raw, Value: []byte("not a cloudevent")},
		record(t, raw, "r-1", clicks.Type, `{"user":"alice"}`), // a retry by the producer
		record(t, raw, "r-2", clicks.Type, `{"user":"carol"}`),
		// Each of these once killed the process, which then read it again at
		// every restart, or was accepted with a key twice.
		record(t, raw, "r-hugenum", clicks.Type, `{"user":"dave","price":1e1000000000}`),
		record(t, raw, "r-panic", panicType, `{"user":"erin"}`),
		record(t, raw, "r-dup", clicks.Type, `{"user":"frank","user":"grace"}`),
		{Topic: raw, Value: []byte(`{"specversion":"1.0","id":"r-upper","source":"/s","type":"com.example.raw.click.v1","MyExt":"x","data":{"user":"h"}}`),
			Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/cloudevents+json")}}},
		{Topic: raw, Value: []byte(`{"specversion":"1.0","id":"r-structnum","source":"/s","type":"com.example.raw.click.v1","data":{"user":"i","price":1e400}}`),
			Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/cloudevents+json")}}},
	}
	produced := cl.ProduceSync(ctx, recs...)
	if err := produced.FirstErr(); err != nil {
		t.Fatal(err)
	}
	offsets := map[string]int64{} // by ce_id, or marker of the records that do not decode
	for i, pr := range produced {
		id := kafkatest.Header(pr.Record, "ce_id")
		if id == "" && i >= len(recs)-2 {
			id = []string{"r-upper", "r-structnum"}[i-(len(recs)-2)]
		}
		if _, seen := offsets[id]; !seen {
			offsets[id] = pr.Record.Offset
		}
	}

	group := prefix + "group"
	ccl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers)}, rawconsume.Opts(group, prefix, 5*time.Second)...)...)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() {
		done <- rawconsume.New(ccl, in, slog.New(slog.NewTextHandler(io.Discard, nil)), prefix).Run(runCtx)
	}()

	good := kafkatest.Read(t, brokers, prefix+clicks.Topic, 2, 30*time.Second, 500*time.Millisecond)
	if len(good) != 2 || string(good[0].Key) != "alice" || string(good[1].Key) != "carol" {
		t.Fatalf("stream topic: %d records %v", len(good), good)
	}
	dlq := kafkatest.Read(t, brokers, prefix+event.TopicDLQ, 8, 30*time.Second, 500*time.Millisecond)
	reasons := map[string]reason.ID{}
	for _, r := range dlq {
		l, err := deadletter.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		id := l.Header("ce_id")
		for _, marker := range []string{"r-upper", "r-structnum"} {
			if id == "" && strings.Contains(string(r.Value), marker) {
				id = marker // not decoded: the record as received
			}
		}
		reasons[id] = l.Reason
		// The origin is the raw record itself: its topic, partition and
		// offset, so it can be found and replayed.
		if want := offsets[id]; l.Origin != deadletter.Kafka(raw, 0, want) || l.Service != "ingest" {
			t.Errorf("dead letter %q: origin %v, service %q; want %v", id, l.Origin, l.Service, deadletter.Kafka(raw, 0, want))
		}
	}
	want := map[string]reason.ID{"r-bad": "schema_violation", "r-other": "stream_mismatch", "": "not_cloudevent",
		"r-hugenum": "number_out_of_range", "r-panic": "internal_error", "r-dup": "duplicate_key", "r-upper": "invalid_attribute", "r-structnum": "number_out_of_range"}
	if len(dlq) != len(want) || len(reasons) != len(want) {
		t.Fatalf("dead letters: %v", reasons)
	}
	for id, why := range want {
		if reasons[id] != why {
			t.Errorf("dead letter %q: reason %q, want %q", id, reasons[id], why)
		}
	}
	// Offsets committed up to the end once everything is written.
	testkit.EventuallyContext(t, 20*time.Second, func(ctx context.Context) error {
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return err
		}
		if o, ok := offs.Lookup(raw, 0); !ok || o.At != int64(len(recs)) {
			return fmt.Errorf("offset of %s/0 %+v (found %v), want %d", raw, o, ok, len(recs))
		}
		return nil
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ccl.Close()
	_, _ = adm.DeleteGroups(context.Background(), group)
}
