package event_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func randomSuffix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// roundTripEvents are the events both integration tests send: every
// attribute, several extension types, binary data, no data.
func roundTripEvents(t *testing.T) []ce.Event {
	full := fullEvent(t, "it-full")
	bin := minimalEvent("it-binary")
	bin.SetExtension("partitionkey", "card-4711")
	if err := bin.SetData("application/octet-stream", []byte{0, 1, 0xfe, 0xff, '\r', '\n'}); err != nil {
		t.Fatal(err)
	}
	empty := minimalEvent("it-empty")
	empty.SetTime(time.Date(2026, 11, 26, 9, 0, 0, 1, time.UTC))
	empty.SetExtension("tenant", "acme corp")
	return []ce.Event{full, bin, empty, minimalEvent("it-keyed")}
}

// TestKafkaRealBroker produces events to a fresh topic on the real Kafka,
// consumes them and compares everything.
func TestKafkaRealBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real Kafka")
	}
	brokers := strings.Split(envOr("TRIBUTARY_KAFKA_BROKERS", "127.0.0.1:9092"), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(admCl.Close) // after the topic is deleted: cleanups run last-in first-out
	pingCtx, pingCancel := context.WithTimeout(ctx, 10*time.Second)
	defer pingCancel()
	if err := admCl.Ping(pingCtx); err != nil {
		t.Fatalf("kafka at %v is unreachable (start it with `make infra-up` or set TRIBUTARY_KAFKA_BROKERS): %v", brokers, err)
	}
	adm := kadm.NewClient(admCl)
	topic := "tributary-test-event-" + randomSuffix(t)
	resp, err := adm.CreateTopic(ctx, 3, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopic(ctx, topic); err != nil {
			t.Errorf("delete topic %s: %v", topic, err)
		}
	})

	events := roundTripEvents(t)
	keys := map[string]string{"it-full": "card-4711", "it-binary": "card-4711", "it-empty": "", "it-keyed": "entity-9"}
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var recs []*kgo.Record
	for _, e := range events {
		var opts []event.KafkaOption
		if e.ID() == "it-keyed" {
			opts = append(opts, event.WithKey([]byte("entity-9")))
		}
		rec, err := event.ToKafkaRecord(ctx, e, topic, opts...)
		if err != nil {
			t.Fatalf("ToKafkaRecord(%s): %v", e.ID(), err)
		}
		recs = append(recs, rec)
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := map[string]*kgo.Record{}
	for len(got) < len(events) {
		fetches := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records before the deadline", len(got), len(events))
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs)
		}
		fetches.EachRecord(func(r *kgo.Record) { got[headerMap(r.Headers)["ce_id"]] = r })
	}
	for _, want := range events {
		t.Run(want.ID(), func(t *testing.T) {
			r, ok := got[want.ID()]
			if !ok {
				t.Fatalf("event %s not consumed", want.ID())
			}
			if string(r.Key) != keys[want.ID()] {
				t.Errorf("key %q, want %q", r.Key, keys[want.ID()])
			}
			if len(want.Data()) == 0 && r.Value != nil {
				t.Errorf("value %q, want none", r.Value)
			}
			e, err := event.FromKafkaRecord(r)
			if err != nil {
				t.Fatalf("FromKafkaRecord: %v", err)
			}
			assertSameEvent(t, &want, e)
		})
	}
	if a, b := got["it-full"].Partition, got["it-binary"].Partition; a != b {
		t.Errorf("same partitionkey landed on partitions %d and %d", a, b)
	}
}

func connectNATS(t *testing.T) *nats.Conn {
	t.Helper()
	url := envOr("TRIBUTARY_NATS_URL", "nats://127.0.0.1:4222")
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second), nats.Name("libs/event test"))
	if err != nil {
		t.Fatalf("nats at %s is unreachable (start it with `make infra-up` or set TRIBUTARY_NATS_URL): %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TestNATSRealServer publishes events on the real NATS and receives them.
func TestNATSRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real NATS")
	}
	nc := connectNATS(t)
	// Not under tributary.<domain>: the TRIBUTARY stream must not keep test
	// traffic.
	subject := "test.event." + randomSuffix(t)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sub.Unsubscribe(); err != nil {
			t.Errorf("unsubscribe: %v", err)
		}
	}()
	for _, want := range roundTripEvents(t) {
		t.Run(want.ID(), func(t *testing.T) {
			msg, err := event.ToNATSMsg(want, subject)
			if err != nil {
				t.Fatalf("ToNATSMsg: %v", err)
			}
			if err := nc.PublishMsg(msg); err != nil {
				t.Fatalf("publish: %v", err)
			}
			in, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("receive: %v", err)
			}
			if in.Header.Get("ce-id") != want.ID() {
				t.Fatalf("received ce-id %q, want %q", in.Header.Get("ce-id"), want.ID())
			}
			got, err := event.FromNATSMsg(in)
			if err != nil {
				t.Fatalf("FromNATSMsg: %v", err)
			}
			assertSameEvent(t, &want, got)
		})
	}
}

// TestJetStreamRealServer publishes events to a fresh stream on the real NATS
// and consumes them with a durable pull consumer.
func TestJetStreamRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real NATS")
	}
	nc := connectNATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	suffix := randomSuffix(t)
	name := "TEST_EVENT_" + strings.ToUpper(suffix)
	subjectPrefix := "test.event." + suffix
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     name,
		Subjects: []string{subjectPrefix + ".>"},
		Storage:  jetstream.MemoryStorage,
		MaxAge:   10 * time.Minute,
	})
	if err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})

	events := roundTripEvents(t)
	for _, e := range events {
		msg, err := event.ToNATSMsg(e, subjectPrefix+".model.registered")
		if err != nil {
			t.Fatalf("ToNATSMsg(%s): %v", e.ID(), err)
		}
		// Dedup by event id, as a publisher of control events would.
		msg.Header.Set(jetstream.MsgIDHeader, e.ID())
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatalf("publish %s: %v", e.ID(), err)
		}
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   "test",
		AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatalf("create consumer: %v", err)
	}
	batch, err := cons.Fetch(len(events), jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	var got []*ce.Event
	for m := range batch.Messages() {
		e, err := event.FromJetStreamMsg(m)
		if err != nil {
			t.Fatalf("FromJetStreamMsg: %v", err)
		}
		got = append(got, e)
		if err := m.Ack(); err != nil {
			t.Errorf("ack: %v", err)
		}
	}
	if err := batch.Error(); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if len(got) != len(events) {
		t.Fatalf("consumed %d events, want %d", len(got), len(events))
	}
	for i := range events {
		assertSameEvent(t, &events[i], got[i])
	}
}
