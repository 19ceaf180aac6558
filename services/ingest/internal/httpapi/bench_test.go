package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/services/ingest/internal/dedup"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
)

type instantProducer struct{}

func (instantProducer) TryProduce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	promise(r, nil)
}

type oneStream struct{ s *streamspec.Stream }

func (o oneStream) ByType(t string) (*streamspec.Stream, bool) { return o.s, t == o.s.Type }
func (oneStream) Synced() bool                                 { return true }

// BenchmarkBatch is the CPU cost of a batch of 100 new events of about
// 1 KB through decoding and intake, without Kafka (the producer
// acknowledges at once): ns/op divided by 100 is the cost of one event (cpu-ns/op: the CPU
// time of the benchmark's thread, which the machine's other work does not
// inflate).
func BenchmarkBatch(b *testing.B) {
	next := newBatchRun(b)
	b.SetBytes(int64(len(next())))
	b.ReportAllocs()
	loopCPU(b, func() { next() })
}

// TestBatchAllocations bounds the allocations of a batch of 100 events
// through decoding and intake (BenchmarkBatch's): 3 an event (there were 8
// before the batch's events shared one allocation and the partition key
// lost its map, 28 before that).
func TestBatchAllocations(t *testing.T) {
	next := newBatchRun(t)
	next() // the dedup window's first growth
	if got := testing.AllocsPerRun(20, func() { next() }); got > 300 {
		t.Errorf("%.0f allocations a batch of 100 events, want at most 300", got)
	}
}

// newBatchRun returns a function that sends the next batch of 100 new
// events of about 1 KB through decodeBatch and an intake whose producer
// acknowledges at once, fails tb unless the first is accepted, and returns
// the batch's body.
func newBatchRun(tb testing.TB) func() []byte {
	s, err := streamspec.Parse([]byte(`{"name":"bench","type":"com.example.bench.event.v1","entity_key":"/user_id","event_time":"/at",
 "schema":{"type":"object","required":["user_id","item_id","at","amount","payload"],"properties":{
  "user_id":{"type":"string","minLength":1},"item_id":{"type":"string"},"at":{"type":"string","format":"date-time"},
  "amount":{"type":"number","minimum":0},"tags":{"type":"array","items":{"type":"string"}},"payload":{"type":"string"}},
  "additionalProperties":false}}`))
	if err != nil {
		tb.Fatal(err)
	}
	in := intake.New(intake.Config{MaxEventBytes: 1 << 20, MaxFuture: time.Hour, MaxPast: time.Hour, ProduceTimeout: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), oneStream{s}, instantProducer{}, dedup.New(time.Minute, 1<<20))
	at := time.Now().UTC().Format(time.RFC3339Nano)
	// One body whose 100 ids carry a 12-digit batch number, rewritten
	// before each batch: every event is new to the dedup window, so that
	// each batch takes the whole path (claim, record, produce, promise)
	// and not the duplicate's short cut.
	var sb strings.Builder
	var counters []int // offsets of the batch numbers in the body
	sb.WriteByte('[')
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"specversion":"1.0","id":"e-`)
		counters = append(counters, sb.Len())
		fmt.Fprintf(&sb, `000000000000-%d","source":"/bench","type":"com.example.bench.event.v1","time":"%s","datacontenttype":"application/json","data":{"user_id":"u-%d","item_id":"i-1","at":"%s","amount":3.5,"tags":["a","b"],"payload":"%s"}}`,
			i, at, i, at, strings.Repeat("x", 700))
	}
	sb.WriteByte(']')
	body := []byte(sb.String())
	n := 0
	return func() []byte {
		n++
		var num [12]byte
		for d, v := 11, n; d >= 0; d, v = d-1, v/10 {
			num[d] = byte('0' + v%10)
		}
		for _, off := range counters {
			copy(body[off:off+12], num[:])
		}
		items, _ := decodeBatch(body, 1000)
		res := in.Submit(context.Background(), httpSource, items)
		if res[0].Outcome != intake.Accepted {
			tb.Fatalf("%+v", res[0])
		}
		return body
	}
}
