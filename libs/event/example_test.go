package event_test

import (
	"context"
	"fmt"
	"log"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"

	"github.com/tributary-ml/tributary/libs/event"
)

// A label travels on Kafka in binary content mode, keyed by its entity.
func ExampleToKafkaRecord() {
	e := ce.New()
	e.SetID("lbl-0001")
	e.SetSource("/tributary/ingest")
	e.SetType(event.TypeLabelRecorded)
	e.SetTime(time.Date(2026, 11, 26, 9, 15, 2, 250_000_000, time.UTC))
	e.SetExtension("partitionkey", "card-4711")
	label := event.LabelRecorded{
		Stream:    "fraud",
		EntityKey: "card-4711",
		Value:     1,
		EventTime: time.Date(2026, 11, 26, 9, 15, 0, 0, time.UTC),
	}
	if err := e.SetData(ce.ApplicationJSON, label); err != nil {
		log.Fatal(err)
	}
	topic, err := event.Topic(event.TypeLabelRecorded)
	if err != nil {
		log.Fatal(err)
	}

	rec, err := event.ToKafkaRecord(context.Background(), e, topic)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("topic %s, key %s\n", rec.Topic, rec.Key)
	for _, h := range rec.Headers {
		fmt.Printf("%s: %s\n", h.Key, h.Value)
	}
	fmt.Printf("value: %s\n", rec.Value)

	// The consumer's side.
	got, err := event.FromKafkaRecord(rec)
	if err != nil {
		log.Fatal(err)
	}
	var back event.LabelRecorded
	if err := got.DataAs(&back); err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Type(), back.EntityKey, back.Value)
	// Output:
	// topic tributary.labels, key card-4711
	// ce_id: lbl-0001
	// ce_partitionkey: card-4711
	// ce_source: /tributary/ingest
	// ce_specversion: 1.0
	// ce_time: 2026-11-26T09:15:02.25Z
	// ce_type: tributary.label.recorded.v1
	// content-type: application/json
	// value: {"stream":"fraud","entity_key":"card-4711","value":1,"event_time":"2026-11-26T09:15:00Z"}
	// tributary.label.recorded.v1 card-4711 1
}

// A control event travels on NATS, on the subject of its type.
func ExampleToNATSMsg() {
	e := ce.New()
	e.SetID("mv-0042")
	e.SetSource("/tributary/registry")
	e.SetType(event.TypeModelAliasMoved)
	if err := e.SetData(ce.ApplicationJSON, event.ModelAliasMoved{
		Model: "fraud", Alias: "production", FromVersion: 7, ToVersion: 8, Actor: "trainer",
	}); err != nil {
		log.Fatal(err)
	}
	subject, err := event.Subject(e.Type())
	if err != nil {
		log.Fatal(err)
	}
	msg, err := event.ToNATSMsg(e, subject)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(msg.Subject, event.InStream(msg.Subject))
	fmt.Println(msg.Header.Get("ce-type"), msg.Header.Get("Content-Type"))

	got, err := event.FromNATSMsg(msg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.ID())
	// Output:
	// tributary.model.alias_moved true
	// tributary.model.alias_moved.v1 application/json
	// mv-0042
}
