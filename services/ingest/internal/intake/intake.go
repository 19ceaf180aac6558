package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/jsondoc"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/services/ingest/internal/datacheck"
	"github.com/tributary-ml/tributary/services/ingest/internal/dedup"
)

// Config configures the checks and the wait for Kafka.
type Config struct {
	MaxEventBytes  int
	MaxFuture      time.Duration
	MaxPast        time.Duration
	ProduceTimeout time.Duration
	// OutageTimeout replaces ProduceTimeout while Kafka is known down
	// (see Health); 0: answer at once.
	OutageTimeout time.Duration
	// Health, when set, is the producer's (kgo.WithHooks); else intake
	// learns of outages from requests that time out only.
	Health *Health
	// TopicPrefix is prepended to every topic written (tests only).
	TopicPrefix string
	// DeadLetterMaxBytes bounds a dead-letter record
	// (deadletter.Builder.MaxBytes): the producer's batch size. 0:
	// deadletter.DefaultMaxBytes.
	DeadLetterMaxBytes int
	// Propagator, when set, writes the trace context of Submit's ctx into
	// the traceparent and tracestate extensions of events that have none.
	Propagator propagation.TextMapPropagator
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.MaxEventBytes <= 0:
		return errors.New("events.max-event-bytes: must be positive")
	case c.MaxFuture <= 0:
		return errors.New("events.max-future: must be positive")
	case c.MaxPast <= 0:
		return errors.New("events.max-past: must be positive")
	case c.ProduceTimeout <= 0:
		return errors.New("produce.timeout: must be positive")
	case c.OutageTimeout < 0 || c.OutageTimeout > c.ProduceTimeout:
		return errors.New("produce.outage-timeout: must be between 0 and produce.timeout")
	case c.DeadLetterMaxBytes != 0 && c.DeadLetterMaxBytes < deadletter.MinMaxBytes:
		return fmt.Errorf("dead-letter record limit %d: at least %d", c.DeadLetterMaxBytes, deadletter.MinMaxBytes)
	}
	return nil
}

// Outcome is what became of one event.
type Outcome string

// Outcomes.
const (
	Accepted    Outcome = "accepted"    // on its topic, acknowledged by Kafka
	Duplicate   Outcome = "duplicate"   // written earlier within the dedup window; accepted, not written again
	Rejected    Outcome = "rejected"    // invalid; on the dead-letter topic
	Unavailable Outcome = "unavailable" // Kafka did not take it in time: retry later
)

// Rejection is why an event is refused.
type Rejection struct {
	Reason  Reason
	Message string
}

func reject(r Reason, format string, args ...any) *Rejection {
	return &Rejection{Reason: r, Message: fmt.Sprintf(format, args...)}
}

// Item is one event to submit: a decoded Event, or a Rejection from the
// decoder with the Raw bytes received.
type Item struct {
	Event     *ce.Event
	Rejection *Rejection
	// Validated says Event.Validate() was nil when the decoder made Event
	// (then encoding its record does not run it again).
	Validated bool
	// DataJSON says Event's data is known to be one valid JSON document:
	// the decoder took it from JSON it had checked (then the data check
	// does not look again for what valid JSON cannot hold).
	DataJSON bool
	// Source is Event's source as e.Source() formats it, when the decoder
	// has it; else check formats it, once (sdk-go formats the URI again
	// for each read).
	Source string
	// Raw is the event as received, written to the dead-letter topic when
	// Event is nil; Headers are its headers from a raw Kafka record.
	Raw     []byte
	Headers []kgo.RecordHeader
	// Size is the event's size on the wire, checked against MaxEventBytes.
	Size int
	// Allowed, when set, says which types the producer may send.
	Allowed func(eventType string) bool
	// Stream, when set, is the only stream the event may belong to (the
	// raw topic's).
	Stream string
	// Origin is where the item came from, for its dead-letter record:
	// deadletter.FromRecord of a raw record; zero is deadletter.HTTP().
	Origin deadletter.Origin
}

func (it *Item) origin() deadletter.Origin {
	if it.Origin.Transport == "" {
		return deadletter.HTTP()
	}
	return it.Origin
}

// Result is the outcome of one item (httpapi answers it).
type Result struct {
	ID      string
	Outcome Outcome
	Reason  Reason // set when Rejected
	Message string // why, when Rejected or Unavailable
}

// Source says where items come from: Path is "http" or "kafka" (the
// path label of the metrics). Each item has its own Origin.
type Source struct{ Path string }

// Lookup finds the live stream of an event type.
type Lookup interface {
	ByType(eventType string) (*streamspec.Stream, bool)
	// Synced reports whether the stream definitions are loaded: before,
	// a type ByType does not know may be a stream's not read yet.
	Synced() bool
}

// ErrStreamsLoading is the error of an event checked before the stream
// definitions are loaded: Unavailable (retry), never unknown_type.
var ErrStreamsLoading = errors.New("ingest has not loaded the stream definitions yet (it just started, or NATS is not reachable): send the event again later")

// Producer is the part of *kgo.Client intake writes with.
type Producer interface {
	TryProduce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

var _ Producer = (*kgo.Client)(nil)

// Intake checks and writes events. Safe for concurrent use.
type Intake struct {
	cfg      Config
	logger   *slog.Logger
	streams  Lookup
	producer Producer
	dedup    *dedup.Window
	now      func() time.Time
	health   *Health
	letters  deadletter.Builder
	checkers datacheck.Cache // each stream's compiled data check

	events   *prometheus.CounterVec
	counters sync.Map // countKey → the events counter's series
	// latencyOK and latencyError are the produce latency's two series.
	latencyOK, latencyError prometheus.Observer
	dlqCount                *prometheus.CounterVec
	panics                  *prometheus.CounterVec
	mu                      sync.Mutex
	rejected                map[Reason]int // since the last summary log
}

// New returns an intake.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, streams Lookup, producer Producer, window *dedup.Window) *Intake {
	f := promauto.With(reg)
	health := cfg.Health
	if health == nil {
		health = NewHealth()
	}
	in := &Intake{
		cfg: cfg, logger: logger, streams: streams, producer: producer, dedup: window, now: time.Now, health: health,
		rejected: map[Reason]int{},
		letters:  deadletter.Builder{Service: "ingest", Topic: cfg.TopicPrefix + deadletter.Topic, MaxBytes: cfg.DeadLetterMaxBytes},
		events: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_ingest_events_total",
			Help: "Events handled, by path (http, kafka), outcome (accepted, duplicate, rejected, unavailable) and reason (a rejection reason id; none when accepted).",
		}, []string{"path", "outcome", "reason"}),
		dlqCount: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_ingest_dlq_records_total",
			Help: "Records written to the dead-letter topic, by outcome (ok, error).",
		}, []string{"outcome"}),
		panics: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_ingest_panics_total",
			Help: "Panics recovered while handling one event or request, by path (http, kafka); each is answered internal_error and dead-lettered.",
		}, []string{"path"}),
	}
	latency := f.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tributary_ingest_produce_duration_seconds",
		Help:    "Time from handing a batch's (or an event's) first record to the producer to Kafka's acknowledgement of each, by outcome (ok, error).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"outcome"})
	in.latencyOK, in.latencyError = latency.WithLabelValues("ok"), latency.WithLabelValues("error")
	return in
}

// pending is one record in flight. Its record is its first field, so that
// one promise function for all records finds its pending (promised): no
// closure, record or channel of its own per event.
type pending struct {
	rec   kgo.Record
	in    *Intake
	batch *batch
	claim dedup.Claim
	dlq   *Rejection // set for a dead-letter record
	id    string
	err   error       // Kafka's answer, once acked
	acked atomic.Bool // the promise ran: err is set
	ended atomic.Bool // the claim was ended (by the promise, or by a panic)
	// released says the batch no longer waits for this record (its
	// promise ran, or a panic abandoned it).
	released atomic.Bool
}

// The promise finds its pending from the record's address.
var _ = [1]struct{}{}[unsafe.Offsetof(pending{}.rec)]

// batch is what a Submit waits for: done closes when left, its records in
// flight and Submit's own hold, reaches 0.
type batch struct {
	left  atomic.Int64
	done  chan struct{}
	start time.Time // when its records were first handed to the producer
}

func (b *batch) release() {
	if b.left.Add(-1) == 0 {
		close(b.done)
	}
}

// recordHeaders is the room for headers of one record in a batch's
// slice: the 8 of a CloudEvent with every attribute and the partition key.
const recordHeaders = 9

// Submit checks and writes items and returns a result per item, in order.
// It returns when Kafka has acknowledged every record, or after the produce
// timeout (the records not acknowledged by then are Unavailable, and stay
// in the producer's bounded buffer until delivered or timed out).
//
// While Kafka is known down (see Health) the wait is OutageTimeout instead,
// also for a request already waiting when the outage becomes known.
func (in *Intake) Submit(ctx context.Context, src Source, items []Item) []Result {
	timeout := in.cfg.ProduceTimeout
	down, outage := in.health.state()
	if down {
		timeout = in.cfg.OutageTimeout
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	received := in.now().UTC()
	results := make([]Result, len(items))
	waits := make([]*pending, len(items))
	slab := make([]pending, len(items)) // one allocation for the batch's records in flight
	headers := make([]kgo.RecordHeader, recordHeaders*len(items))
	b := &batch{done: make(chan struct{}), start: time.Now()}
	b.left.Store(1) // Submit's hold, until every item is prepared
	in.warm(items)
	for i := range items {
		it := &items[i]
		slab[i].rec.Headers = headers[i*recordHeaders : i*recordHeaders : (i+1)*recordHeaders]
		p, res := in.safePrepare(wctx, src, received, it, &slab[i], b)
		if p == nil {
			results[i] = res
			results[i].ID = it.eventID()
			continue
		}
		waits[i] = p
	}
	b.release()
	var timedOut bool
wait:
	for {
		select {
		case <-b.done:
			break wait
		case <-outage: // known down now: wait OutageTimeout at most
			outage, down = nil, true
			var stop context.CancelFunc
			wctx, stop = context.WithTimeout(wctx, in.cfg.OutageTimeout)
			defer stop()
		case <-wctx.Done():
			timedOut = true
			break wait
		}
	}
	acked := false
	for i, p := range waits {
		if p == nil {
			continue
		}
		var err error
		switch {
		case p.acked.Load():
			err = p.err
			acked = acked || err == nil
		case down:
			err = fmt.Errorf("kafka is unreachable (no acknowledgement since the outage began, waited %v): %w", in.cfg.OutageTimeout, wctx.Err())
		default:
			err = fmt.Errorf("kafka did not acknowledge within %v: %w", timeout, wctx.Err())
		}
		results[i] = in.finish(src, items[i], p, err)
	}
	if timedOut && !acked && ctx.Err() == nil {
		in.health.markDown() // a whole wait without an acknowledgement
	}
	return results
}

// warm has the dedup window load the slots the items' claims will look
// at, together (dedup.Window.Warm); it sets the items' Source as check
// would.
func (in *Intake) warm(items []Item) {
	if len(items) < 2 {
		return
	}
	pairs := make([]dedup.Pair, 0, len(items))
	for i := range items {
		it := &items[i]
		if it.Event == nil || it.Rejection != nil || it.Event.Context == nil {
			continue
		}
		if it.Source == "" {
			it.Source = it.Event.Source()
		}
		pairs = append(pairs, dedup.Pair{Source: it.Source, ID: it.Event.ID()})
	}
	in.dedup.Warm(pairs)
}

func (it *Item) eventID() string {
	if it.Event != nil {
		return it.Event.ID()
	}
	return ""
}

// safePrepare is prepare, recovering from a panic on this one item: it is
// counted, logged with its stack and dead-lettered as internal_error, so
// that no input can stop the service or, on the raw path, be read again
// and again.
func (in *Intake) safePrepare(ctx context.Context, src Source, received time.Time, it *Item, into *pending, b *batch) (p *pending, res Result) {
	defer func() {
		if r := recover(); r != nil {
			in.Panicked(src, r, debug.Stack())
			failed := *it
			failed.Rejection = reject(reason.InternalError, "ingest failed on this event (%v); it is on the dead-letter topic", r)
			if failed.Raw == nil && failed.Event != nil {
				failed.Raw = failed.Event.Data()
			}
			failed.Event = nil // the event in binary mode may be what failed
			// A new pending: into may be known to a promise of the write
			// that failed.
			p, res = in.prepare(ctx, src, received, &failed, new(pending), b)
		}
	}()
	return in.prepare(ctx, src, received, it, into, b)
}

// Panicked counts and logs a panic recovered while handling src's input.
func (in *Intake) Panicked(src Source, r any, stack []byte) {
	in.panics.WithLabelValues(src.Path).Inc()
	in.logger.Error("panic handling an event", "path", src.Path, "panic", fmt.Sprint(r), "stack", string(stack))
}

// prepare checks an item and starts its write (to its topic, or to the
// dead-letter topic), in p. It returns a nil pending and a result instead
// when there is nothing to wait for.
func (in *Intake) prepare(ctx context.Context, src Source, received time.Time, it *Item, p *pending, b *batch) (*pending, Result) {
	rej := it.Rejection
	var claim dedup.Claim
	if rej == nil {
		var err error
		rej, err = in.check(ctx, received, it, &p.rec)
		if err != nil {
			return nil, in.count(src, Result{Outcome: Unavailable, Message: err.Error()}, "")
		}
	}
	if rej == nil {
		var dup bool
		var err error
		claim, dup, err = in.dedup.ClaimAt(ctx, it.Source, it.Event.ID(), b.start)
		switch {
		case err != nil:
			return nil, in.count(src, Result{Outcome: Unavailable, Message: "an earlier copy of this event is still being written"}, "")
		case dup:
			return nil, in.count(src, Result{Outcome: Duplicate}, "")
		}
	} else {
		in.logger.Debug("event rejected", "event_id", it.eventID(), "origin", it.origin().String(), "reason", string(rej.Reason), "error", rej.Message)
		p.rec = *in.deadLetter(ctx, received, it, rej)
	}
	p.in, p.batch, p.claim, p.dlq, p.id = in, b, claim, rej, it.eventID()
	b.left.Add(1)
	defer func() {
		if r := recover(); r != nil {
			if p.ended.CompareAndSwap(false, true) {
				p.claim.Done(false) // the write never started: free the pair for a retry
			}
			if p.released.CompareAndSwap(false, true) {
				b.release() // abandoned: safePrepare dead-letters the item anew
			}
			panic(r) // for safePrepare
		}
	}()
	in.producer.TryProduce(context.Background(), &p.rec, promised)
	return p, Result{}
}

// promised is the promise of every record intake produces; rec is the
// first field of its pending: franz-go calls a record's promise "with the
// record" produced (TryProduce's contract), the same pointer.
func promised(rec *kgo.Record, err error) {
	p := (*pending)(unsafe.Pointer(rec))
	p.in.promised(p, err)
}

func (in *Intake) promised(p *pending, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	now := time.Now()
	latency := in.latencyOK
	if err != nil {
		latency = in.latencyError
	}
	latency.Observe(now.Sub(p.batch.start).Seconds())
	if p.dlq != nil {
		in.dlqCount.WithLabelValues(outcome).Inc()
	}
	if err == nil {
		in.health.markUp()
	}
	// The claim ends when Kafka answers, also after Submit stopped
	// waiting: a retry then finds the event written.
	if p.ended.CompareAndSwap(false, true) {
		p.claim.DoneAt(err == nil, now)
	}
	p.err = err
	p.acked.Store(true)
	if p.released.CompareAndSwap(false, true) {
		p.batch.release()
	}
}

func (in *Intake) finish(src Source, it Item, p *pending, err error) Result {
	res := Result{ID: p.id}
	switch {
	case err != nil && errors.Is(err, kgo.ErrMaxBuffered):
		res.Outcome, res.Message = Unavailable, "ingest's buffer towards Kafka is full"
	case err != nil && errors.Is(err, kerr.MessageTooLarge) && p.dlq != nil:
		// Permanent: a 503 would be retried forever. The limits keep
		// dead-letter records below the producer's batch size; a topic
		// with a smaller max.message.bytes can still refuse one.
		res.Outcome, res.Reason, res.Message = Rejected, p.dlq.Reason, p.dlq.Message+" (its dead-letter record was too large for Kafka and is not kept)"
	case err != nil && errors.Is(err, kerr.MessageTooLarge):
		res.Outcome, res.Reason, res.Message = Rejected, reason.EventTooLarge, "event: Kafka refused its record as too large (the topic's max.message.bytes)"
	case err != nil:
		res.Outcome, res.Message = Unavailable, "kafka did not take the event: "+err.Error()
	case p.dlq != nil:
		res.Outcome, res.Reason, res.Message = Rejected, p.dlq.Reason, p.dlq.Message
	default:
		res.Outcome = Accepted
	}
	if err != nil {
		in.logger.Debug("event not written", "event_id", p.id, "origin", it.origin().String(), "error", err)
	}
	return in.count(src, res, res.Reason)
}

// countKey is one series of the events counter.
type countKey struct {
	path    string
	outcome Outcome
	reason  string
}

// counter is the events counter's series of k, resolved once: a lookup
// that takes no lock (the vector's own, per event, was a shared lock
// and three strings hashed).
func (in *Intake) counter(k countKey) prometheus.Counter {
	if c, ok := in.counters.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c, _ := in.counters.LoadOrStore(k, in.events.WithLabelValues(k.path, string(k.outcome), k.reason))
	return c.(prometheus.Counter)
}

func (in *Intake) count(src Source, res Result, reason Reason) Result {
	label := string(reason)
	if label == "" {
		label = "none"
	}
	in.counter(countKey{src.Path, res.Outcome, label}).Inc()
	if res.Outcome == Rejected {
		in.mu.Lock()
		in.rejected[reason]++
		in.mu.Unlock()
	}
	return res
}

// check validates a decoded event against its stream and builds its record.
// err is set only when the event cannot be judged or its record cannot be
// built (not the producer's fault): the stream definitions are not loaded
// yet (ErrStreamsLoading), or a data check failed unexpectedly.
func (in *Intake) check(ctx context.Context, received time.Time, it *Item, rec *kgo.Record) (*Rejection, error) {
	e := it.Event
	if it.Size > in.cfg.MaxEventBytes {
		return reject(reason.EventTooLarge, "event: %d bytes, more than the limit of %d", it.Size, in.cfg.MaxEventBytes), nil
	}
	if it.Source == "" && e.Context != nil {
		it.Source = e.Source()
	}
	if rej := checkAttributes(e, it.Source); rej != nil {
		return rej, nil
	}
	if it.Allowed != nil && !it.Allowed(e.Type()) {
		return reject(reason.ForbiddenType, "type: this API key may not send %q", e.Type()), nil
	}
	if !in.streams.Synced() {
		// A KV stream not read yet would be refused as unknown_type (or
		// judged by the file definition it overrides): data loss, as a
		// producer drops an event refused with a 400.
		return nil, ErrStreamsLoading
	}
	s, ok := in.streams.ByType(e.Type())
	if !ok {
		return reject(reason.UnknownType, "type: no stream has the type %q", e.Type()), nil
	}
	if it.Stream != "" && s.Name != it.Stream {
		return reject(reason.StreamMismatch, "type: %q belongs to stream %s, not to %s", e.Type(), s.Name, it.Stream), nil
	}
	switch ct := e.DataContentType(); {
	case ct == "":
		// JSON is implied (JSON event format); say so for the consumers.
		e.SetDataContentType("application/json")
	case !isJSON(ct):
		return reject(reason.UnsupportedDataType, "datacontenttype: %q is not JSON (application/json or +json)", ct), nil
	}
	check := in.checkers.For(s).Check // = s.Check, compiled
	if it.DataJSON {
		check = in.checkers.For(s).CheckValidJSON
	}
	fields, err := check(e.Data())
	if err != nil {
		var se *streamspec.Error
		switch {
		case errors.Is(err, jsondoc.ErrNumberRange):
			return reject(reason.NumberOutOfRange, "data: %v", err), nil
		case errors.Is(err, jsondoc.ErrDuplicateKey):
			return reject(reason.DuplicateKey, "data: %v", err), nil
		case errors.Is(err, streamspec.ErrMalformedData):
			return reject(reason.MalformedData, "data: not one JSON document: %v", errors.Unwrap(err)), nil
		case errors.As(err, &se) && se.Schema:
			return reject(reason.SchemaViolation, "data: %s", violations(se)), nil
		case errors.As(err, &se) && se.Violations[0].Rule == "entity_key":
			return reject(reason.InvalidEntityKey, "data: %s", violations(se)), nil
		case errors.As(err, &se):
			return reject(reason.InvalidEventTime, "data: %s", violations(se)), nil
		}
		return nil, err
	}
	if len(fields.EntityKey) > MaxAttributeBytes {
		return reject(reason.InvalidEntityKey, "data%s: entity key of %d bytes, more than the limit of %d", s.EntityKey, len(fields.EntityKey), MaxAttributeBytes), nil
	}
	t, field := fields.EventTime, func() string { return "data" + s.EventTime } // built for a rejection only
	if s.EventTime == "" {
		field = func() string { return "time" }
		if e.Time().IsZero() {
			e.SetTime(received) // no time given: the time ingest received it
		}
		t = e.Time()
	}
	if t.After(received.Add(in.cfg.MaxFuture)) {
		return reject(reason.EventTimeFuture, "%s: %s is more than %v after now", field(), t.UTC().Format(time.RFC3339Nano), in.cfg.MaxFuture), nil
	}
	if t.Before(received.Add(-in.cfg.MaxPast)) {
		return reject(reason.EventTimePast, "%s: %s is more than %v before now", field(), t.UTC().Format(time.RFC3339Nano), in.cfg.MaxPast), nil
	}
	if _, has := extensionsOf(e)[event.TraceParentExtension]; !has && in.cfg.Propagator != nil {
		if err := event.InjectTrace(ctx, in.cfg.Propagator, e); err != nil {
			return reject(reason.InvalidAttribute, "event: %v", err), nil
		}
	}
	// The entity key becomes the partitionkey extension.
	if err := encodeRecordInto(rec, e, in.cfg.TopicPrefix+s.Topic, it.Validated, it.Source, fields.EntityKey); err != nil {
		return reject(reason.InvalidAttribute, "event: %v", err), nil
	}
	return nil, nil
}

// setPartitionKey is e.SetExtension("partitionkey", key) on a CloudEvents
// 1.0 context without a field error: without sdk-go's checks, which a
// string under this name passes, and its bookkeeping of field errors,
// which builds the string "extension:partitionkey" for each event.
func setPartitionKey(e *ce.Event, key string) {
	c, ok := e.Context.(*ce.EventContextV1)
	if !ok || c == nil || len(e.FieldErrors) > 0 {
		e.SetExtension("partitionkey", key)
		return
	}
	if c.Extensions == nil {
		c.Extensions = make(map[string]any, 1)
	}
	c.Extensions["partitionkey"] = key
}

// extensionsOf returns e's extensions, not to be changed: the context's
// own map for CloudEvents 1.0 (e.Extensions() copies it for each call).
func extensionsOf(e *ce.Event) map[string]any {
	if c, ok := e.Context.(*ce.EventContextV1); ok && c != nil {
		return c.Extensions
	}
	return e.Extensions()
}

func violations(se *streamspec.Error) string {
	parts := make([]string, len(se.Violations))
	for i, v := range se.Violations {
		parts[i] = v.String()
	}
	return strings.Join(parts, "; ")
}

func isJSON(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// deadLetter builds the dead-letter record of a rejected item: the event in
// binary mode when it decoded, else the bytes and headers received. The
// Builder cuts what does not fit, so the record fits the producer's batch
// whatever the input.
func (in *Intake) deadLetter(ctx context.Context, received time.Time, it *Item, rej *Rejection) *kgo.Record {
	l := deadletter.Letter{Reason: rej.Reason, Error: rej.Message, Origin: it.origin(), Received: received, Value: it.Raw, Headers: it.Headers}
	if it.Event != nil && rej.Reason != reason.InternalError {
		if r, err := event.ToKafkaRecord(ctx, *it.Event, ""); err == nil {
			l.Key, l.Value, l.Headers = r.Key, r.Value, r.Headers
		}
	}
	return in.letters.Record(l)
}

// Run logs, every interval until ctx ends, how many events were rejected
// for each reason since the last line (each rejection is logged at debug).
func (in *Intake) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			in.summary()
			return nil
		case <-t.C:
			in.summary()
		}
	}
}

func (in *Intake) summary() {
	in.mu.Lock()
	counts := in.rejected
	in.rejected = map[Reason]int{}
	in.mu.Unlock()
	if len(counts) == 0 {
		return
	}
	attrs := make([]any, 0, 2*len(counts))
	total := 0
	for r, n := range counts {
		attrs = append(attrs, string(r), strconv.Itoa(n))
		total += n
	}
	in.logger.Info("events rejected", append([]any{"count", total}, slog.Group("reasons", attrs...))...)
}

// Refused counts a request refused before its events were read: no valid
// API key (not dead-lettered: with no producer known, anyone could fill the
// dead-letter topic), or a body that could not be read (nothing to
// dead-letter).
func (in *Intake) Refused(src Source, reason Reason) {
	in.count(src, Result{Outcome: Rejected}, reason)
}
