package cardgen

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeIngest answers like ingest: 503 for the first unavailable batches,
// then accepted, and "duplicate" for an id it saw.
type fakeIngest struct {
	mu          sync.Mutex
	unavailable int
	seen        map[string]int
	events      []Event
	arrived     map[string]time.Time
	reject      string // an id refused with schema_violation
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/events" || r.Header.Get("Content-Type") != "application/cloudevents-batch+json" || r.Header.Get("Authorization") != "Bearer k" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var batch []Event
	if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unavailable > 0 {
		f.unavailable--
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"kafka down","reason":"unavailable"}`))
		return
	}
	var res []Outcome
	for _, e := range batch {
		switch {
		case e.ID == f.reject:
			res = append(res, Outcome{ID: e.ID, Status: "rejected", Reason: "schema_violation"})
		case f.seen[e.ID] > 0:
			res = append(res, Outcome{ID: e.ID, Status: "duplicate"})
		default:
			res = append(res, Outcome{ID: e.ID, Status: "accepted"})
			f.events = append(f.events, e)
			f.arrived[e.ID] = time.Now()
		}
		f.seen[e.ID]++
	}
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]any{"results": res})
}

type fakePredictor struct {
	n  int
	at map[string]time.Time // card: when it was last scored
}

func (p *fakePredictor) Predict(_ context.Context, cards []string) ([]string, error) {
	ids := make([]string, len(cards))
	for i, c := range cards {
		p.n++
		ids[i] = "p-" + c
		if p.at != nil {
			p.at[c] = time.Now()
		}
	}
	return ids, nil
}

func TestStream(t *testing.T) {
	fake := &fakeIngest{unavailable: 2, seen: map[string]int{}, arrived: map[string]time.Time{}, reject: "t-1-5"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.IDPrefix, cfg.LabelDelay, cfg.Unlabelled = "t", 400*time.Millisecond, 0.2
	wl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	scfg := DefaultStreamConfig()
	scfg.Rate, scfg.Limit, scfg.Tick, scfg.RetryBackoff, scfg.Batch = 500, 300, 20*time.Millisecond, 20*time.Millisecond, 50
	scfg.DriftAt = time.Now().Add(300 * time.Millisecond)
	scfg.ScoreDelay = 100 * time.Millisecond
	var outcomes sync.Map
	scfg.OnOutcome = func(kind Kind, ev Event, o Outcome) { outcomes.Store(ev.ID, string(kind)+":"+o.Status) }
	pred := &fakePredictor{at: map[string]time.Time{}}
	scfg.OnPrediction = func(card, id string, err error) {
		// Each card is scored no sooner than ScoreDelay after its newest
		// transaction was made.
		if err != nil || id != "p-"+card {
			t.Errorf("prediction of %s: %q %v", card, id, err)
		}
	}
	s, err := NewStream(scfg, wl, &Ingest{URL: srv.URL, APIKey: "k"}, pred, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run did not end at the limit")
	}
	st := s.Stats()
	if st.Transactions != 300 || st.Accepted != 299 || st.Rejected != 1 || st.Unavailable == 0 || st.Predictions != 299 || pred.n != 299 {
		t.Fatalf("stats %+v", st)
	}
	for _, e := range fake.events {
		if e.Type != scfg.EventType {
			continue
		}
		d := e.Data.(map[string]any)
		at, _ := time.Parse(time.RFC3339Nano, d["at"].(string))
		card := d["card_id"].(string)
		if last := pred.at[card]; last.Sub(at) < scfg.ScoreDelay && !last.Before(at) {
			// The card's last scoring came sooner than ScoreDelay after
			// one of its transactions.
			t.Errorf("%s scored %v after a transaction, want at least %v", card, last.Sub(at), scfg.ScoreDelay)
		}
	}
	if st.Drifted == 0 || st.Drifted == 300 {
		t.Errorf("drifted %d of 300: the switch at DriftAt did not turn on mid-stream", st.Drifted)
	}
	if st.LabelsPending != 0 || st.LabelsAccepted+st.Unlabelled != 299 || st.Unlabelled < 30 || st.Unlabelled > 90 {
		t.Fatalf("labels %+v", st)
	}
	txns := map[string]Event{}
	labels := 0
	for _, e := range fake.events {
		switch e.Type {
		case scfg.EventType:
			txns[e.ID] = e
		case LabelType:
			labels++
			d := e.Data.(map[string]any)
			id := strings.TrimSuffix(e.ID, "-label")
			tx, ok := txns[id]
			if !ok {
				t.Fatalf("label %s before or without its transaction", e.ID)
			}
			txd := tx.Data.(map[string]any)
			at, _ := time.Parse(time.RFC3339Nano, d["event_time"].(string))
			sent := fake.arrived[e.ID].Sub(at)
			if d["stream"] != scfg.LabelStream || d["entity_key"] != txd["card_id"] || d["event_time"] != txd["at"] || d["prediction_id"] != "p-"+txd["card_id"].(string) {
				t.Errorf("label %v of transaction %v", d, txd)
			}
			if sent < cfg.LabelDelay/2 {
				t.Errorf("label %s sent %v after its transaction, want at least %v", e.ID, sent, cfg.LabelDelay/2)
			}
		}
	}
	if len(txns) != 299 || uint64(labels) != st.LabelsAccepted {
		t.Errorf("ingest has %d transactions and %d labels, stats %+v", len(txns), labels, st)
	}
	for _, e := range fake.events {
		if v, ok := outcomes.Load(e.ID); !ok || !strings.HasSuffix(v.(string), ":accepted") {
			t.Errorf("outcome of %s: %v", e.ID, v)
		}
	}
	if v, _ := outcomes.Load("t-1-5"); v != "transaction:rejected" {
		t.Errorf("outcome of the rejected event: %v", v)
	}
	for id, n := range fake.seen {
		if n > 1 && !strings.HasPrefix(id, "t-") {
			t.Errorf("%s sent %d times", id, n)
		}
	}
}

func TestStreamStopsWithContext(t *testing.T) {
	fake := &fakeIngest{unavailable: 1 << 30, seen: map[string]int{}, arrived: map[string]time.Time{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	wl, _ := New(DefaultConfig())
	scfg := DefaultStreamConfig()
	scfg.RetryBackoff = 10 * time.Millisecond
	s, err := NewStream(scfg, wl, &Ingest{URL: srv.URL, APIKey: "k"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Run took %v after its context ended", took)
	}
	if st := s.Stats(); st.Unavailable == 0 || st.Accepted != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStreamRefusedBatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"no key","reason":"unauthenticated"}`))
	}))
	defer srv.Close()
	wl, _ := New(DefaultConfig())
	s, _ := NewStream(DefaultStreamConfig(), wl, &Ingest{URL: srv.URL}, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "unauthenticated") {
		t.Fatalf("Run: %v", err)
	}
}

func TestStreamBackfill(t *testing.T) {
	fake := &fakeIngest{seen: map[string]int{}, arrived: map[string]time.Time{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.LabelDelay, cfg.Unlabelled = 100*time.Millisecond, 0
	wl, _ := New(cfg)
	scfg := DefaultStreamConfig()
	scfg.Rate, scfg.Backfill, scfg.Limit, scfg.Tick = 100, 10*time.Second, 1010, 20*time.Millisecond
	pred := &fakePredictor{}
	s, err := NewStream(scfg, wl, &Ingest{URL: srv.URL, APIKey: "k"}, pred, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("run: %v %v", err, ctx.Err())
	}
	var times []time.Time
	labels := 0
	for _, e := range fake.events {
		if e.Type == LabelType {
			labels++
			continue
		}
		at, _ := time.Parse(time.RFC3339Nano, e.Data.(map[string]any)["at"].(string))
		times = append(times, at)
	}
	if len(times) != 1010 || labels != 1010 {
		t.Fatalf("%d transactions, %d labels", len(times), labels)
	}
	// 1000 dated over the 10 s before the start, in order, then 10 live.
	if d := start.Sub(times[0]); d < 9900*time.Millisecond || d > 10100*time.Millisecond {
		t.Errorf("first backfilled transaction %v before the start", d)
	}
	for i := 1; i < 1000; i++ {
		if gap := times[i].Sub(times[i-1]); gap < 9*time.Millisecond || gap > 11*time.Millisecond {
			t.Fatalf("backfill gap %v at %d", gap, i)
		}
	}
	if times[999].After(start) || times[1000].Before(start) {
		t.Errorf("backfill ends %v, live starts %v, start %v", times[999], times[1000], start)
	}
	if pred.n != 10 {
		t.Errorf("%d scored, want only the 10 live transactions", pred.n)
	}
}
