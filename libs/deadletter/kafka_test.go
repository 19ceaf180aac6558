package deadletter_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// TestRecordProducesToKafka writes the dead-letter record of an input
// Kafka refuses (a 10 MB id, 500 KB of headers, a 10 MB value) to the real
// broker with franz-go's default limits, and reads it back.
func TestRecordProducesToKafka(t *testing.T) {
	brokers := testkit.KafkaBrokers(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	topic := "test-" + hex.EncodeToString(b) + "." + deadletter.Topic

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, topic)
	})

	huge := bytes.Repeat([]byte{'x'}, 10<<20)
	headers := []kgo.RecordHeader{{Key: "ce_id", Value: huge}}
	for i := range 5000 {
		headers = append(headers, kgo.RecordHeader{Key: "h" + hex.EncodeToString([]byte{byte(i >> 8), byte(i)}), Value: bytes.Repeat([]byte{'v'}, 95)})
	}
	// The input itself is refused: the reason the contract exists.
	raw := &kgo.Record{Topic: topic, Value: huge, Headers: headers}
	if err := cl.ProduceSync(ctx, raw).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("producing the raw input: %v, want MESSAGE_TOO_LARGE", err)
	}

	rec := deadletter.Builder{Service: "ingest", Topic: topic}.Record(deadletter.Letter{
		Reason: "event_too_large", Error: "event of 10485760 bytes, at most 1048576", Origin: deadletter.HTTP(),
		Value: huge, Headers: headers,
	})
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatalf("produce the dead-letter record (%d bytes by Size): %v", deadletter.Size(rec), err)
	}
	fetches := cl.PollRecords(ctx, 1)
	if err := fetches.Err(); err != nil {
		t.Fatal(err)
	}
	got := fetches.Records()
	if len(got) != 1 {
		t.Fatalf("read %d records", len(got))
	}
	l, err := deadletter.Decode(got[0])
	if err != nil {
		t.Fatal(err)
	}
	if l.Reason != "event_too_large" || l.Origin != deadletter.HTTP() || len(l.Truncated) == 0 || len(l.Header("ce_id")) != deadletter.MaxHeaderValueBytes {
		t.Errorf("read back %s %s %v, ce_id %d bytes", l.Reason, l.Origin, l.Truncated, len(l.Header("ce_id")))
	}
}
