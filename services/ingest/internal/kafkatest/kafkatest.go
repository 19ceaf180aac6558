package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
)

// Brokers returns TRIBUTARY_KAFKA_BROKERS, or the local default. It marks
// the test as an integration test: skipped with -short, failing when Kafka
// is not reachable.
func Brokers(t testing.TB) string {
	t.Helper()
	servicetest.RequireServers(t, "kafka")
	if b := os.Getenv("TRIBUTARY_KAFKA_BROKERS"); b != "" {
		return b
	}
	return "127.0.0.1:9092"
}

// Prefix returns a topic-name prefix no other test uses: "test-<hex>.".
func Prefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test-" + hex.EncodeToString(b) + "."
}

// Topics returns a topics configuration with prefix, one partition per
// topic unless partitions says otherwise, and deletes every topic with the
// prefix when the test ends.
func Topics(t testing.TB, brokers, prefix string, partitions int) kafkax.TopicsConfig {
	t.Helper()
	t.Cleanup(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
		if err != nil {
			return
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			return
		}
		var names []string
		for _, d := range topics.Sorted() {
			if len(d.Topic) > len(prefix) && d.Topic[:len(prefix)] == prefix {
				names = append(names, d.Topic)
			}
		}
		if len(names) > 0 {
			_, _ = adm.DeleteTopics(ctx, names...)
		}
	})
	return kafkax.TopicsConfig{Partitions: partitions, ReplicationFactor: -1, Retention: time.Hour, DLQRetention: time.Hour, NamePrefix: prefix}
}

// Read returns the records of topic from its start, waiting until there are
// at least n or timeout has passed, then reading for settle more to catch
// extra records (duplicates) beyond n.
func Read(t testing.TB, brokers, topic string, n int, timeout, settle time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(timeout)
	for {
		limit := deadline
		if len(out) >= n {
			limit = time.Now().Add(settle)
			deadline = limit
		}
		ctx, cancel := context.WithDeadline(context.Background(), limit)
		fetches := cl.PollFetches(ctx)
		cancel()
		out = append(out, fetches.Records()...)
		if time.Now().After(deadline) {
			return out
		}
	}
}

// Header returns the value of a record header, "" when absent.
func Header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
