package intake

import (
	"strings"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2"
)

// BenchmarkEncodeRecord is the cost of the record of a benchmark event
// (ingest-bench's: five attributes, a time, the partition key, 1 KB of
// data) that the decoder validated.
func BenchmarkEncodeRecord(b *testing.B) {
	e := ce.NewEvent()
	e.SetID("run-b-4294967296")
	e.SetSource("/bench/producer")
	e.SetType("com.example.bench.event.v1")
	e.SetTime(time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC))
	e.SetDataContentType("application/json")
	e.SetExtension("partitionkey", "user-42")
	e.DataEncoded = []byte(`{"user_id":"user-42","payload":"` + strings.Repeat("x", 900) + `"}`)
	b.ReportAllocs()
	loopCPU(b, func() {
		if _, err := encodeRecord(&e, "topic", true, "/bench/producer"); err != nil {
			b.Fatal(err)
		}
	})
}
