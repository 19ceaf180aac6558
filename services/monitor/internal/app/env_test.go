package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/monitor/internal/state"
)

// kafkaTopics gives a service test a topic prefix of its own (name, a
// number, "_") on the tests' Kafka, with the monitor's topics created under
// it (deleted at the end), and a client to produce to them.
func kafkaTopics(t *testing.T, name string, partitions int32) (prefix string, kc *kgo.Client) {
	t.Helper()
	prefix = fmt.Sprintf("%s%d_", name, time.Now().UnixNano())
	kc, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(testkit.Addr(t, testkit.Kafka), ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	adm := kadm.NewClient(kc)
	topics := []string{prefix + event.TopicPredictions, prefix + event.TopicLabels, prefix + event.TopicDLQ}
	if _, err := adm.CreateTopics(context.Background(), partitions, 1, nil, topics...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), topics...) })
	return prefix, kc
}

// sharedJetStream connects to the tests' NATS; the stream, buckets and
// object store the service creates under prefix are deleted at the end.
func sharedJetStream(t *testing.T, prefix string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(testkit.NATSURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c := context.Background()
		_ = js.DeleteStream(c, prefix+natsx.StreamName)
		for _, b := range []string{natsx.BucketModels, natsx.BucketFeatures, natsx.BucketJobs, natsx.BucketSchemas, state.Bucket} {
			_ = js.DeleteKeyValue(c, prefix+b)
		}
		_ = js.DeleteObjectStore(c, prefix+natsx.ObjectStoreArtifacts)
	})
	return nc, js
}
