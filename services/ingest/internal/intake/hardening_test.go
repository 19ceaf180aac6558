package intake_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/services/ingest/internal/dedup"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
)

// panicky is a Lookup that panics for one type, standing for any bug that
// an input could trigger.
type panicky struct {
	lookup
	typ string
}

func (p panicky) ByType(t string) (*streamspec.Stream, bool) {
	if t == p.typ {
		panic("boom on " + t)
	}
	return p.lookup.ByType(t)
}

const maxEvent = 64 << 10

func setupStream(t *testing.T, p *producer, l func(*streamspec.Stream) intake.Lookup) (*intake.Intake, *prometheus.Registry) {
	t.Helper()
	return setupStreamConfig(t, p, l, func(*intake.Config) {})
}

func setupStreamConfig(t *testing.T, p *producer, l func(*streamspec.Stream) intake.Lookup, edit func(*intake.Config)) (*intake.Intake, *prometheus.Registry) {
	t.Helper()
	s, err := streamspec.Parse([]byte(`{"name":"s","type":"com.example.t.v1","entity_key":"/k","schema":{"type":"object","required":["k"],
	 "properties":{"price":{"type":"number","minimum":0}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := intake.Config{MaxEventBytes: maxEvent, MaxFuture: time.Minute, MaxPast: time.Hour, ProduceTimeout: 2 * time.Second}
	edit(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	in := intake.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, l(s), p, dedup.New(time.Minute, 100))
	return in, reg
}

func plain(s *streamspec.Stream) intake.Lookup { return lookup{s} }

func (p *producer) records() []*kgo.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*kgo.Record(nil), p.written...)
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestUnsafeData: a number float64 cannot hold (which panicked the schema
// validator) and a key twice in the data are rejected with their reason and
// dead-lettered.
func TestUnsafeData(t *testing.T) {
	p := &producer{}
	in, _ := setupStream(t, p, plain)
	res := in.Submit(context.Background(), src, []intake.Item{
		item("n1", `{"k":"a","price":1e1000000000}`),
		item("n2", `{"k":"a","price":-1e-1000000000}`),
		item("d1", `{"k":"a","k":"b"}`),
		item("ok", `{"k":"a","price":1.5e300}`),
	})
	want := []intake.Reason{reason.NumberOutOfRange, reason.NumberOutOfRange, reason.DuplicateKey, ""}
	for i, w := range want {
		if res[i].Reason != w || (w != "" && (res[i].Outcome != intake.Rejected || !strings.Contains(res[i].Message, "/"))) {
			t.Errorf("item %d: %+v, want %s", i, res[i], w)
		}
		if w != "" && intake.Status(w) != 400 {
			t.Errorf("%s: status %d", w, intake.Status(w))
		}
	}
	dead := 0
	for _, r := range p.records() {
		if r.Topic == "tributary.dlq" {
			dead++
		}
	}
	if dead != 3 {
		t.Fatalf("%d dead letters, want 3", dead)
	}
}

// TestPanicRecovered: an item that panics is answered internal_error,
// dead-lettered and counted; the others of its batch are not affected.
func TestPanicRecovered(t *testing.T) {
	p := &producer{}
	in, reg := setupStream(t, p, func(s *streamspec.Stream) intake.Lookup { return panicky{lookup{s}, "com.example.boom.v1"} })
	bad := item("boom", `{"k":"a"}`)
	bad.Event.SetType("com.example.boom.v1")
	bad.Raw = []byte(`{"specversion":"1.0","id":"boom","marker":"raw"}`)
	res := in.Submit(context.Background(), src, []intake.Item{item("1", `{"k":"a"}`), bad, item("2", `{"k":"b"}`)})
	if res[0].Outcome != intake.Accepted || res[2].Outcome != intake.Accepted {
		t.Fatalf("neighbours: %+v", res)
	}
	if res[1].Outcome != intake.Rejected || res[1].Reason != reason.InternalError || intake.Status(res[1].Reason) != 500 {
		t.Fatalf("panicking item: %+v", res[1])
	}
	var dlq *kgo.Record
	for _, r := range p.records() {
		if r.Topic == "tributary.dlq" {
			dlq = r
		}
	}
	if dlq == nil || header(dlq, deadletter.HeaderReason) != "internal_error" || string(dlq.Value) != string(bad.Raw) {
		t.Fatalf("dead letter: %+v", dlq)
	}
	if n := counterSum(t, reg, "tributary_ingest_panics_total"); n != 1 {
		t.Fatalf("panics counted: %v", n)
	}
}

func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestAttributeLimits: attributes and extensions are bounded one by one and
// together (413 attribute_too_large), and so is the entity key.
func TestAttributeLimits(t *testing.T) {
	p := &producer{}
	in, _ := setupStream(t, p, plain)
	longID := item(strings.Repeat("i", intake.MaxAttributeBytes+1), `{"k":"a"}`)
	longExt := item("e1", `{"k":"a"}`)
	longExt.Event.SetExtension("big", strings.Repeat("x", intake.MaxAttributeBytes+1))
	many := item("e2", `{"k":"a"}`)
	for i := range 10 {
		many.Event.SetExtension("ext"+string(rune('a'+i)), strings.Repeat("x", intake.MaxAttributeBytes-10))
	}
	fits := item("e3", `{"k":"a"}`)
	fits.Event.SetExtension("big", strings.Repeat("x", intake.MaxAttributeBytes))
	longKey := item("e4", `{"k":"`+strings.Repeat("k", intake.MaxAttributeBytes+1)+`"}`)
	res := in.Submit(context.Background(), src, []intake.Item{longID, longExt, many, fits, longKey})
	for i, w := range []struct {
		reason intake.Reason
		names  string
	}{{reason.AttributeTooLarge, "id"}, {reason.AttributeTooLarge, "big"}, {reason.AttributeTooLarge, "attributes"}, {"", ""}, {reason.InvalidEntityKey, "/k"}} {
		if res[i].Reason != w.reason || !strings.Contains(res[i].Message, w.names) {
			t.Errorf("item %d: %+v, want %s naming %s", i, res[i], w.reason, w.names)
		}
	}
	if intake.Status(reason.AttributeTooLarge) != 413 {
		t.Errorf("status %d", intake.Status(reason.AttributeTooLarge))
	}
}

// TestDeadLetterFits: whatever the input, the dead-letter record fits the
// producer's batch (so Kafka takes it and the producer is not told 503
// forever) and still says why, from where, and which event: a huge id,
// hundreds of KB of headers before ce_id, a huge body and message.
func TestDeadLetterFits(t *testing.T) {
	const limit = maxEvent + 64<<10
	p := &producer{}
	in, _ := setupStreamConfig(t, p, plain, func(c *intake.Config) { c.DeadLetterMaxBytes = limit })
	hugeID := item(strings.Repeat("i", 2<<20), `{"k":"a"}`)
	hugeID.Size = 2 << 20 // event_too_large, decoded
	var hs []kgo.RecordHeader
	for i := range 400 {
		hs = append(hs, kgo.RecordHeader{Key: "ce_x" + strings.Repeat("n", i%300), Value: []byte(strings.Repeat("v", 2000))})
	}
	hs = append(hs, kgo.RecordHeader{Key: "ce_id", Value: []byte("hdr-id")})
	raw := intake.Item{Raw: []byte(strings.Repeat("b", 3<<20)), Headers: hs, Origin: deadletter.Kafka("tributary.ingest.s", 2, 7),
		Rejection: &intake.Rejection{Reason: reason.MissingAttribute, Message: strings.Repeat("m", 1<<20)}}
	res := in.Submit(context.Background(), intake.Source{Path: "kafka"}, []intake.Item{hugeID, raw})
	if res[0].Reason != reason.EventTooLarge || res[1].Reason != reason.MissingAttribute {
		t.Fatalf("%+v", res)
	}
	recs := p.records()
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	wantOrigin := map[reason.ID]deadletter.Origin{reason.EventTooLarge: deadletter.HTTP(), reason.MissingAttribute: deadletter.Kafka("tributary.ingest.s", 2, 7)}
	for i, r := range recs { // in the order Kafka acknowledged them
		if size := deadletter.Size(r); size > limit {
			t.Errorf("dead letter %d: %d bytes, over the limit of %d", i, size, limit)
		}
		l, err := deadletter.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := wantOrigin[l.Reason]; !ok || l.Service != "ingest" || l.Origin != o || len(l.Truncated) == 0 {
			t.Errorf("dead letter %d: reason %s, service %q, origin %v, truncated %v", i, l.Reason, l.Service, l.Origin, l.Truncated)
		}
		if id := l.Header("ce_id"); id == "" || len(id) > deadletter.MaxHeaderValueBytes {
			t.Errorf("dead letter %d: ce_id of %d bytes (%d headers kept)", i, len(id), len(l.Headers))
		}
	}
}

// TestTooLargeForKafka: a record Kafka refuses as too large (a topic with a
// smaller max.message.bytes than ingest's limits assume) is a permanent
// rejection, not a 503 the producer would retry forever.
func TestTooLargeForKafka(t *testing.T) {
	p := &producer{answer: func(*kgo.Record) error { return kerr.MessageTooLarge }}
	in, _ := setupStream(t, p, plain)
	res := in.Submit(context.Background(), src, []intake.Item{item("ok", `{"k":"a"}`), item("bad", `{"nok":1}`)})
	if res[0].Outcome != intake.Rejected || res[0].Reason != reason.EventTooLarge {
		t.Errorf("event record too large: %+v", res[0])
	}
	if res[1].Outcome != intake.Rejected || res[1].Reason != reason.SchemaViolation || !strings.Contains(res[1].Message, "not kept") {
		t.Errorf("dead-letter record too large: %+v", res[1])
	}
}

// panicOnce panics when first asked to write to the stream's topic.
type panicOnce struct {
	*producer
	done bool
}

func (p *panicOnce) TryProduce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if !p.done && r.Topic != "tributary.dlq" {
		p.done = true
		panic("producer bug")
	}
	p.producer.TryProduce(ctx, r, promise)
}

// TestPanicAfterClaim: a panic after the event's (source, id) was claimed
// frees the claim, so that a retry is written rather than waiting forever
// for a write that never started.
func TestPanicAfterClaim(t *testing.T) {
	p := &panicOnce{producer: &producer{}}
	s, err := streamspec.Parse([]byte(`{"name":"s","type":"com.example.t.v1","entity_key":"/k","schema":{"type":"object"}}`))
	if err != nil {
		t.Fatal(err)
	}
	in := intake.New(intake.Config{MaxEventBytes: maxEvent, MaxFuture: time.Minute, MaxPast: time.Hour, ProduceTimeout: 2 * time.Second, OutageTimeout: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), lookup{s}, p, dedup.New(time.Minute, 100))
	start := time.Now()
	if res := in.Submit(context.Background(), src, []intake.Item{item("1", `{"k":"a"}`)}); res[0].Reason != reason.InternalError {
		t.Fatalf("first: %+v", res[0])
	}
	// The write abandoned by the panic is not waited for (only its
	// dead-letter record is): no wait for the produce timeout.
	if took := time.Since(start); took >= 2*time.Second {
		t.Fatalf("the request with the panic took %v, the produce timeout", took)
	}
	if res := in.Submit(context.Background(), src, []intake.Item{item("1", `{"k":"a"}`)}); res[0].Outcome != intake.Accepted {
		t.Fatalf("retry: %+v", res[0])
	}
}
