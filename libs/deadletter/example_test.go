package deadletter_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/deadletter"
)

func Example() {
	// A consumer refuses a record it cannot read...
	in := &kgo.Record{Topic: "tributary.events.orders", Partition: 2, Offset: 417, Value: []byte(strings.Repeat("x", 3<<20))}
	dlq := deadletter.Builder{Service: "features"}
	rec := dlq.Record(deadletter.Letter{
		Reason:   "undecodable_event",
		Error:    "ce_specversion header missing",
		Origin:   deadletter.FromRecord(in),
		Received: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		Key:      in.Key, Value: in.Value, Headers: in.Headers,
	})
	// ...and a reader reads why.
	l, err := deadletter.Decode(rec)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Topic, l.Service, l.Reason, l.Origin, l.Truncated, deadletter.Size(rec) <= deadletter.DefaultMaxBytes)
	// Output: tributary.dlq features undecodable_event kafka:tributary.events.orders/2/417 [value] true
}
