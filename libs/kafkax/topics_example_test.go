package kafkax_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/kafkax"
)

// Ingest creates the topic of a newly defined stream with the platform's
// topic settings.
func ExampleEnsureTopics() {
	topics := kafkax.TopicsConfig{Partitions: 3, ReplicationFactor: -1, Retention: 168 * time.Hour, DLQRetention: 720 * time.Hour}
	cl, err := kafkax.NewClient(kafkax.Config{Brokers: "127.0.0.1:9092", DialTimeout: 5 * time.Second}, nil, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()
	results, err := kafkax.EnsureTopics(context.Background(), kadm.NewClient(cl), topics.Topic(event.EventsTopic("orders")))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range results {
		fmt.Println(r.Name, "created:", r.Created, r.Warning)
	}
}
