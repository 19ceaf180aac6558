package intake_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/services/ingest/internal/dedup"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
)

// producer is a fake Kafka producer: it answers each record with the
// error that answer returns, or holds it while hold is set.
type producer struct {
	mu      sync.Mutex
	hold    bool
	held    []func()
	answer  func(*kgo.Record) error
	written []*kgo.Record
}

func (p *producer) TryProduce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	finish := func() {
		var err error
		if p.answer != nil {
			err = p.answer(r)
		}
		if err == nil {
			p.mu.Lock()
			p.written = append(p.written, r)
			p.mu.Unlock()
		}
		promise(r, err)
	}
	if p.hold {
		p.held = append(p.held, finish)
		return
	}
	go finish()
}

func (p *producer) release() {
	p.mu.Lock()
	held := p.held
	p.held, p.hold = nil, false
	p.mu.Unlock()
	for _, f := range held {
		f()
	}
}

func (p *producer) topics() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.written {
		out = append(out, r.Topic)
	}
	return out
}

type lookup struct{ s *streamspec.Stream }

func (l lookup) ByType(t string) (*streamspec.Stream, bool) { return l.s, t == l.s.Type }
func (lookup) Synced() bool                                 { return true }

func setup(t *testing.T, p *producer) (*intake.Intake, *prometheus.Registry) {
	s, err := streamspec.Parse([]byte(`{"name":"s","type":"com.example.t.v1","entity_key":"/k","schema":{"type":"object","required":["k"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	in := intake.New(intake.Config{MaxEventBytes: 1 << 10, MaxFuture: time.Minute, MaxPast: time.Hour, ProduceTimeout: 200 * time.Millisecond, OutageTimeout: 200 * time.Millisecond},
		slog.New(slog.NewTextHandler(io.Discard, nil)), reg, lookup{s}, p, dedup.New(time.Minute, 100))
	return in, reg
}

func item(id, data string) intake.Item {
	e := ce.NewEvent()
	e.SetID(id)
	e.SetSource("/src")
	e.SetType("com.example.t.v1")
	_ = e.SetData("application/json", []byte(data))
	return intake.Item{Event: &e, Size: len(data)}
}

var src = intake.Source{Path: "http"}

// notLoaded is a Lookup whose stream definitions are not loaded yet.
type notLoaded struct{ lookup }

func (notLoaded) Synced() bool { return false }

// TestStreamsNotLoaded: before the stream definitions are loaded an event
// is Unavailable (retry), not rejected as unknown_type nor judged against
// a definition that may be outdated; nothing is written, not even to the
// dead-letter topic. An event that is bad whatever the streams (too large)
// is still rejected.
func TestStreamsNotLoaded(t *testing.T) {
	s, err := streamspec.Parse([]byte(`{"name":"s","type":"com.example.t.v1","entity_key":"/k","schema":{"type":"object"}}`))
	if err != nil {
		t.Fatal(err)
	}
	p := &producer{}
	reg := prometheus.NewRegistry()
	in := intake.New(intake.Config{MaxEventBytes: 1 << 10, MaxFuture: time.Minute, MaxPast: time.Hour, ProduceTimeout: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)), reg, notLoaded{lookup{s}}, p, dedup.New(time.Minute, 100))
	unknown := item("2", `{"k":"a"}`)
	unknown.Event.SetType("com.example.kv.only.v1")
	res := in.Submit(context.Background(), src, []intake.Item{item("1", `{"k":"a"}`), unknown})
	for i, r := range res {
		if r.Outcome != intake.Unavailable || r.Reason != "" || !strings.Contains(r.Message, "stream definitions") {
			t.Errorf("event %d: %+v, want unavailable naming the stream definitions", i, r)
		}
	}
	if got := p.topics(); len(got) != 0 {
		t.Errorf("written before the streams are loaded: %v", got)
	}
	big := item("3", `{"k":"a"}`)
	big.Size = 2 << 10
	if res := in.Submit(context.Background(), src, []intake.Item{big}); res[0].Outcome != intake.Rejected || res[0].Reason != reason.EventTooLarge {
		t.Errorf("too large before the streams are loaded: %+v, want rejected event_too_large", res[0])
	}
}

func TestBufferFull(t *testing.T) {
	p := &producer{answer: func(*kgo.Record) error { return kgo.ErrMaxBuffered }}
	in, reg := setup(t, p)
	res := in.Submit(context.Background(), src, []intake.Item{item("1", `{"k":"a"}`)})
	if res[0].Outcome != intake.Unavailable || res[0].Message == "" {
		t.Fatalf("%+v", res[0])
	}
	want := `# HELP tributary_ingest_events_total Events handled, by path (http, kafka), outcome (accepted, duplicate, rejected, unavailable) and reason (a rejection reason id; none when accepted).
# TYPE tributary_ingest_events_total counter
tributary_ingest_events_total{outcome="unavailable",path="http",reason="none"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tributary_ingest_events_total"); err != nil {
		t.Fatal(err)
	}
	// The failed write is forgotten: a retry is written.
	p.answer = nil
	if res := in.Submit(context.Background(), src, []intake.Item{item("1", `{"k":"a"}`)}); res[0].Outcome != intake.Accepted {
		t.Fatalf("retry: %+v", res[0])
	}
}

// A write Kafka acknowledges only after the request gave up: the answer is
// Unavailable, and a retry afterwards is a duplicate, not a second record.
func TestLateAcknowledgement(t *testing.T) {
	p := &producer{hold: true}
	in, _ := setup(t, p)
	res := in.Submit(context.Background(), src, []intake.Item{item("1", `{"k":"a"}`)})
	if res[0].Outcome != intake.Unavailable {
		t.Fatalf("%+v", res[0])
	}
	// A retry while the first is still in flight waits for it.
	done := make(chan intake.Result)
	go func() { done <- in.Submit(context.Background(), src, []intake.Item{item("1", `{"k":"a"}`)})[0] }()
	p.release()
	if r := <-done; r.Outcome != intake.Duplicate {
		t.Fatalf("retry after the late acknowledgement: %+v", r)
	}
	if len(p.topics()) != 1 {
		t.Fatalf("%d records written, want 1", len(p.topics()))
	}
}

// A rejected event whose dead-letter write fails is Unavailable, so that the
// producer sends it again rather than losing it.
func TestDeadLetterFailure(t *testing.T) {
	p := &producer{answer: func(r *kgo.Record) error {
		if r.Topic == "tributary.dlq" {
			return errors.New("broker gone")
		}
		return nil
	}}
	in, _ := setup(t, p)
	res := in.Submit(context.Background(), src, []intake.Item{item("1", `{"nok":1}`), item("2", `{"k":"b"}`)})
	if res[0].Outcome != intake.Unavailable || res[1].Outcome != intake.Accepted {
		t.Fatalf("%+v", res)
	}
	p.answer = nil
	res = in.Submit(context.Background(), src, []intake.Item{item("1", `{"nok":1}`)})
	if res[0].Outcome != intake.Rejected || res[0].Reason != reason.SchemaViolation {
		t.Fatalf("%+v", res)
	}
}
