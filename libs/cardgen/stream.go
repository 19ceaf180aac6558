package cardgen

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Kind tells transactions from labels.
type Kind string

const (
	KindTransaction Kind = "transaction"
	KindLabel       Kind = "label"
)

// LabelType is the type of the built-in label stream's events.
const LabelType = "tributary.label.recorded.v1"

// StreamConfig is how the workload is sent.
type StreamConfig struct {
	// Rate is transactions per second.
	Rate float64
	// Limit stops making transactions after this many (0: no limit);
	// the labels still due are sent before Run returns.
	Limit uint64
	// Batch is the most events in one request to ingest.
	Batch int
	// Tick is how often transactions are made and due labels sent.
	Tick time.Duration
	// EventType and Source are the transactions' CloudEvents type and
	// source; LabelStream is the labels' stream name.
	EventType, Source, LabelStream string
	// DriftAt turns drift on at that instant (zero: only SetDrift does).
	DriftAt time.Time
	// Backfill first sends this long a history of transactions, dated
	// from Backfill ago up to the start at the rate, as fast as ingest
	// takes them (with their labels as they fall due), so that windowed
	// features start in their steady state. Backfilled transactions are
	// not scored.
	Backfill time.Duration
	// ScoreDelay is how long after a transaction its card is scored, so
	// that the online features include the transaction, as the training
	// set's features at the label's time do.
	ScoreDelay time.Duration
	// RetryBackoff is the wait before sending again what ingest could
	// not take.
	RetryBackoff time.Duration
	// OnOutcome, when set, is called with every event's final outcome
	// (accepted, duplicate or rejected), from the Run goroutine.
	OnOutcome func(kind Kind, ev Event, o Outcome)
	// OnPrediction, when set, is called for every prediction served,
	// with its id, or with the error of a failed predict request.
	OnPrediction func(card, predictionID string, err error)
}

// DefaultStreamConfig is the demo's pace: 20 transactions a second.
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{Rate: 20, Batch: 200, Tick: 100 * time.Millisecond, EventType: "com.example.cards.transaction.v1",
		Source: "/cardgen", LabelStream: "card_fraud", RetryBackoff: 500 * time.Millisecond, ScoreDelay: time.Second}
}

// Validate says what is wrong with the config.
func (c StreamConfig) Validate() error {
	var errs []error
	if !(c.Rate > 0) || math.IsInf(c.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate %g: want a positive number of transactions per second", c.Rate))
	}
	if c.Batch < 1 {
		errs = append(errs, fmt.Errorf("batch %d: want at least 1", c.Batch))
	}
	if c.Backfill < 0 || c.ScoreDelay < 0 {
		errs = append(errs, fmt.Errorf("backfill %v, score delay %v: want 0 or more", c.Backfill, c.ScoreDelay))
	}
	if c.Tick <= 0 || c.RetryBackoff <= 0 {
		errs = append(errs, fmt.Errorf("tick %v, retry backoff %v: want positive durations", c.Tick, c.RetryBackoff))
	}
	if c.EventType == "" || c.Source == "" || c.LabelStream == "" {
		errs = append(errs, errors.New("event type, source and label stream: want all three"))
	}
	return errors.Join(errs...)
}

// Stats are the counts of a stream so far.
type Stats struct {
	Transactions, Fraud, Drifted   uint64
	Accepted, Duplicate, Rejected  uint64 // transactions
	LabelsAccepted, LabelsRejected uint64
	LabelsPending, Unlabelled      uint64
	Unavailable                    uint64 // events ingest could not take (sent again)
	Predictions, PredictFailures   uint64
}

// LabelRecorded is the data of a label event.
type LabelRecorded struct {
	Stream       string  `json:"stream"`
	EntityKey    string  `json:"entity_key"`
	Value        float64 `json:"value"`
	EventTime    string  `json:"event_time"`
	PredictionID string  `json:"prediction_id,omitempty"`
}

type sender interface {
	Send(ctx context.Context, events []Event) ([]Outcome, error)
}

type predictor interface {
	Predict(ctx context.Context, cards []string) ([]string, error)
}

// Stream sends a workload: transactions at the rate, each label when it is
// due.
type Stream struct {
	cfg    StreamConfig
	wl     *Workload
	in     sender
	pred   predictor
	log    *slog.Logger
	now    func() time.Time
	drift  atomic.Bool
	mu     sync.Mutex
	stats  Stats
	labels labelQueue
	score  []Transaction // accepted, waiting for ScoreDelay to be scored
}

// NewStream sends wl to in; pred, when not nil, is asked for a prediction
// of every transaction's card, whose id the label then carries.
func NewStream(cfg StreamConfig, wl *Workload, in sender, pred predictor, logger *slog.Logger) (*Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("card stream: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Stream{cfg: cfg, wl: wl, in: in, pred: pred, log: logger, now: time.Now}, nil
}

// SetDrift turns drift on or off from now on.
func (s *Stream) SetDrift(on bool) { s.drift.Store(on) }

// Drifting says whether drift is on.
func (s *Stream) Drifting() bool { return s.drift.Load() }

// Stats are the counts so far.
func (s *Stream) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.LabelsPending = uint64(s.labels.Len())
	return st
}

// Run sends until ctx ends (it then returns nil) or, with a Limit, until
// the last transaction is made and its label sent or withheld.
func (s *Stream) Run(ctx context.Context) error {
	made := uint64(0)
	if s.cfg.Backfill > 0 {
		start := s.now()
		n := int(s.cfg.Backfill.Seconds() * s.cfg.Rate)
		step := time.Duration(float64(time.Second) / s.cfg.Rate)
		for i := 0; i < n && (s.cfg.Limit == 0 || made < s.cfg.Limit); {
			var txns []Transaction
			for ; i < n && len(txns) < s.cfg.Batch && (s.cfg.Limit == 0 || made < s.cfg.Limit); i++ {
				txns = append(txns, s.wl.Next(start.Add(-time.Duration(n-i)*step), s.drift.Load()))
				made++
			}
			if err := s.sendTransactions(ctx, txns, false); err != nil {
				return ctxNil(ctx, err)
			}
			if err := s.sendLabels(ctx, s.now()); err != nil {
				return ctxNil(ctx, err)
			}
		}
	}
	tick := time.NewTicker(s.cfg.Tick)
	defer tick.Stop()
	last := s.now()
	owed := 0.0
	for {
		now := s.now()
		if !s.cfg.DriftAt.IsZero() && !now.Before(s.cfg.DriftAt) {
			s.drift.Store(true)
		}
		// Owed transactions, capped at 5 s worth so that an outage is
		// not followed by a burst.
		owed = math.Min(owed+now.Sub(last).Seconds()*s.cfg.Rate, math.Max(5*s.cfg.Rate, 1))
		last = now
		var txns []Transaction
		for owed >= 1 && (s.cfg.Limit == 0 || made < s.cfg.Limit) {
			txns = append(txns, s.wl.Next(now, s.drift.Load()))
			owed--
			made++
		}
		if err := s.sendTransactions(ctx, txns, s.pred != nil); err != nil {
			return ctxNil(ctx, err)
		}
		s.scoreDue(ctx, s.now())
		if err := s.sendLabels(ctx, s.now()); err != nil {
			return ctxNil(ctx, err)
		}
		if s.cfg.Limit > 0 && made >= s.cfg.Limit && s.Stats().LabelsPending == 0 && len(s.score) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func ctxNil(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// sendTransactions sends transactions; the accepted ones wait to be
// scored when score is set, their labels are queued otherwise.
func (s *Stream) sendTransactions(ctx context.Context, txns []Transaction, score bool) error {
	for len(txns) > 0 {
		n := min(len(txns), s.cfg.Batch)
		chunk := txns[:n]
		txns = txns[n:]
		events := make([]Event, len(chunk))
		for i, t := range chunk {
			events[i] = Event{SpecVersion: "1.0", ID: t.ID, Source: s.cfg.Source, Type: s.cfg.EventType, Time: t.At.Format(time.RFC3339Nano), Data: t}
		}
		outcomes, err := s.deliver(ctx, KindTransaction, events)
		if err != nil {
			return err
		}
		var kept []Transaction
		s.mu.Lock()
		for i, t := range chunk {
			s.stats.Transactions++
			if t.Fraud {
				s.stats.Fraud++
			}
			if t.Drifted {
				s.stats.Drifted++
			}
			switch outcomes[i].Status {
			case "accepted":
				s.stats.Accepted++
			case "duplicate":
				s.stats.Duplicate++
			default:
				s.stats.Rejected++
				continue
			}
			kept = append(kept, t)
		}
		s.mu.Unlock()
		if score {
			s.score = append(s.score, kept...)
		} else {
			s.queueLabels(kept, make([]string, len(kept)))
		}
	}
	return nil
}

// scoreDue scores the cards of the transactions made ScoreDelay ago or
// earlier, and queues their labels with the
// prediction ids. A failed predict request is counted; its labels go
// without a prediction id.
func (s *Stream) scoreDue(ctx context.Context, now time.Time) {
	for len(s.score) > 0 {
		n := 0
		for n < len(s.score) && n < s.cfg.Batch && !s.score[n].At.Add(s.cfg.ScoreDelay).After(now) {
			n++
		}
		if n == 0 {
			return
		}
		due := s.score[:n]
		s.score = s.score[n:]
		cards := make([]string, len(due))
		for i, t := range due {
			cards[i] = t.Card
		}
		ids, err := s.pred.Predict(ctx, cards)
		s.mu.Lock()
		if err != nil {
			s.stats.PredictFailures += uint64(len(cards))
			ids = make([]string, len(cards))
		} else {
			s.stats.Predictions += uint64(len(cards))
		}
		s.mu.Unlock()
		if s.cfg.OnPrediction != nil {
			for i, c := range cards {
				s.cfg.OnPrediction(c, ids[i], err)
			}
		}
		s.queueLabels(due, ids)
	}
}

func (s *Stream) queueLabels(txns []Transaction, predictionIDs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, t := range txns {
		if t.Unlabelled {
			s.stats.Unlabelled++
			continue
		}
		heap.Push(&s.labels, pendingLabel{due: t.At.Add(t.LabelAfter), txn: t, predictionID: predictionIDs[i]})
	}
}

func (s *Stream) sendLabels(ctx context.Context, now time.Time) error {
	for {
		s.mu.Lock()
		var due []pendingLabel
		for s.labels.Len() > 0 && !s.labels[0].due.After(now) && len(due) < s.cfg.Batch {
			due = append(due, heap.Pop(&s.labels).(pendingLabel))
		}
		s.mu.Unlock()
		if len(due) == 0 {
			return nil
		}
		events := make([]Event, len(due))
		for i, l := range due {
			v := 0.0
			if l.txn.Fraud {
				v = 1
			}
			events[i] = Event{SpecVersion: "1.0", ID: l.txn.ID + "-label", Source: s.cfg.Source, Type: LabelType,
				Data: LabelRecorded{Stream: s.cfg.LabelStream, EntityKey: l.txn.Card, Value: v, EventTime: l.txn.At.Format(time.RFC3339Nano), PredictionID: l.predictionID}}
		}
		outcomes, err := s.deliver(ctx, KindLabel, events)
		if err != nil {
			// Not sent: due again at the next round.
			s.mu.Lock()
			for _, l := range due {
				heap.Push(&s.labels, l)
			}
			s.mu.Unlock()
			return err
		}
		s.mu.Lock()
		for _, o := range outcomes {
			if o.Status == "accepted" || o.Status == "duplicate" {
				s.stats.LabelsAccepted++
			} else {
				s.stats.LabelsRejected++
			}
		}
		s.mu.Unlock()
	}
}

// deliver sends events until each is accepted, a duplicate or rejected;
// what ingest could not take is sent again after the backoff, until ctx
// ends.
func (s *Stream) deliver(ctx context.Context, kind Kind, events []Event) ([]Outcome, error) {
	final := make([]Outcome, len(events))
	todo := make([]int, len(events))
	for i := range todo {
		todo[i] = i
	}
	for len(todo) > 0 {
		batch := make([]Event, len(todo))
		for j, i := range todo {
			batch[j] = events[i]
		}
		outcomes, err := s.in.Send(ctx, batch)
		var again []int
		switch {
		case errors.Is(err, ErrUnavailable):
			again = todo
		case err != nil:
			return nil, err
		default:
			for j, i := range todo {
				if outcomes[j].Status == "unavailable" {
					again = append(again, i)
					continue
				}
				final[i] = outcomes[j]
				if outcomes[j].Status == "rejected" {
					s.log.Warn("event rejected", "kind", string(kind), "event_id", events[i].ID, "reason", outcomes[j].Reason, "error", outcomes[j].Error)
				}
				if s.cfg.OnOutcome != nil {
					s.cfg.OnOutcome(kind, events[i], outcomes[j])
				}
			}
		}
		if len(again) > 0 {
			s.mu.Lock()
			s.stats.Unavailable += uint64(len(again))
			s.mu.Unlock()
			s.log.Debug("ingest unavailable, sending again", "kind", string(kind), "events", len(again), "error", err)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(s.cfg.RetryBackoff):
			}
		}
		todo = again
	}
	return final, nil
}

type pendingLabel struct {
	due          time.Time
	txn          Transaction
	predictionID string
}

// labelQueue is a min-heap of labels by due time, then sequence.
type labelQueue []pendingLabel

func (q labelQueue) Len() int { return len(q) }
func (q labelQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].txn.Seq < q[j].txn.Seq
}
func (q labelQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *labelQueue) Push(x any)   { *q = append(*q, x.(pendingLabel)) }
func (q *labelQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
