// Package materialize is the features service's consumer: it reads the
// validated events of every stream (tributary.events.*) and the labels
// (tributary.labels) with one consumer group, appends them to ClickHouse,
// applies the events to the per-entity tiles of every view over their stream
// in Redis, appends the features of the entities it touched to the
// feature_history table, dead-letters what it cannot apply, and only then
// commits the offsets. A replay after a crash changes no value: each entity's Redis hash
// keeps the last offset it applied per partition, written in the same
// MULTI/EXEC as its tiles.
package materialize

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/features/internal/catalog"
	"github.com/tributary-ml/tributary/services/features/internal/offline"
)

// Config configures the materializer.
type Config struct {
	Group      string
	MaxRecords int
	Backoff    time.Duration
	// InstanceID is the static group membership id (group.instance.id);
	// "" is derived by the service (DefaultInstanceID: host name and HTTP
	// listen port), "-" turns static membership off.
	InstanceID string
	// ReadyMaxLag is how far behind (the age of the oldest record of a
	// partition not yet applied) the materializer may be and still be
	// ready.
	ReadyMaxLag time.Duration
	// TopicPrefix is prepended to every topic (tests); not a flag.
	TopicPrefix string
}

// RegisterFlags registers the materializer's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "materializer.group", "tributary-features", "Kafka consumer group of the materializer.")
	fs.IntVar(&c.MaxRecords, "materializer.max-records", 5000, "Most records applied in one batch (one ClickHouse insert, two Redis round trips, one commit).")
	fs.DurationVar(&c.Backoff, "materializer.retry-backoff", 500*time.Millisecond, "Wait before retrying a batch that ClickHouse, Redis or Kafka refused.")
	fs.StringVar(&c.InstanceID, "materializer.instance-id", "", "Static consumer group membership id (group.instance.id), unique per replica and kept across restarts, so that a restarted replica gets its partitions back at once instead of after the session timeout (empty: <host name>-<port of -http.addr>, the same after a restart and unique per host, since two replicas on one host listen on different ports; \"-\": no static membership).")
	fs.DurationVar(&c.ReadyMaxLag, "materializer.ready-max-lag", 10*time.Second, "The materializer is not ready (/readyz) while a partition it owns has a record older than this that is not applied yet.")
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return errors.New("materializer.group: empty")
	case c.MaxRecords < 1:
		return fmt.Errorf("materializer.max-records: %d is not positive", c.MaxRecords)
	case c.Backoff <= 0:
		return fmt.Errorf("materializer.retry-backoff: %v is not positive", c.Backoff)
	case c.ReadyMaxLag <= 0:
		return fmt.Errorf("materializer.ready-max-lag: %v is not positive", c.ReadyMaxLag)
	case c.InstanceID != "-" && strings.ContainsFunc(c.InstanceID, func(r rune) bool {
		return !(r == '.' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}):
		return fmt.Errorf("materializer.instance-id: %q: only letters, digits, '.', '_' and '-'", c.InstanceID)
	}
	return nil
}

// DefaultInstanceID is the static membership id of a replica that sets
// none: its host name and HTTP listen port, "host-8082". Both survive a
// restart of the process (a process id would not, outside a container), and
// two replicas on one host cannot listen on the same port, so the id is the
// same after a crash and a restart, and unique per replica. httpAddr is the
// address the server listens on (a picked port, not 0).
func DefaultInstanceID(hostname func() (string, error), httpAddr string) (string, error) {
	host, err := hostname()
	if err != nil {
		return "", fmt.Errorf("materializer.instance-id: empty, and no host name to default to: %w", err)
	}
	_, port, err := net.SplitHostPort(httpAddr)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("materializer.instance-id: empty, and no listen port in %q to default to", httpAddr)
	}
	id := strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, host+"-"+port)
	return id, nil
}

// ConsumeOpts are the consumer options of the materializer's Kafka client;
// owned learns the partitions assigned.
func (c Config) ConsumeOpts(owned *Ownership) []kgo.Opt {
	p := regexp.QuoteMeta(c.TopicPrefix)
	opts := owned.Opts()
	if c.InstanceID != "" && c.InstanceID != "-" {
		opts = append(opts, kgo.InstanceID(c.InstanceID))
	}
	return append(opts,
		kgo.ConsumerGroup(c.Group),
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics("^"+p+regexp.QuoteMeta(event.TopicEventsPrefix)+".+$", "^"+p+regexp.QuoteMeta(event.TopicLabels)+"$"),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMaxAge(5*time.Second),
	)
}

// Materializer consumes, applies and commits.
type Materializer struct {
	cfg     Config
	logger  *slog.Logger
	client  *kgo.Client
	dlq     deadletter.Builder
	views   func() *catalog.Snapshot
	store   *tiles.Store
	offline *offline.Store
	owned   *Ownership
	filler  *Backfiller
	now     func() time.Time
	// wait sleeps until the wall clock reaches t (the clock of the record
	// timestamps may run ahead of this one).
	wait     func(ctx context.Context, t time.Time) error
	progress *progress

	records  *prometheus.CounterVec
	batchDur prometheus.Histogram
	lag      prometheus.Histogram
}

// New returns a materializer consuming with client (built with
// cfg.ConsumeOpts).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, client *kgo.Client, owned *Ownership, filler *Backfiller, views func() *catalog.Snapshot, store *tiles.Store, off *offline.Store) *Materializer {
	f := promauto.With(reg)
	prog := newProgress()
	owned.onRelease(prog.forget)
	return &Materializer{
		cfg: cfg, logger: logger, client: client, owned: owned,
		dlq: deadletter.Builder{Service: "features", Topic: cfg.TopicPrefix + event.TopicDLQ}, filler: filler, views: views, store: store, offline: off, now: time.Now,
		wait: waitUntil, progress: prog,
		records: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_features_materialized_records_total",
			Help: "Records consumed by the materializer by outcome: applied (to a view), stored (no view reads it), duplicate (already applied: a replay, or a copy with the same source and id), late and the dead-letter reasons.",
		}, []string{"outcome"}),
		batchDur: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_features_materialize_batch_duration_seconds",
			Help:    "Time to store, apply and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		lag: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_features_materialize_lag_seconds",
			Help:    "From the Kafka record timestamp (ingest's acknowledgement) to the batch being applied and committed.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
}

// Run consumes until ctx ends. It returns nil on cancellation; a batch that
// fails is retried (its offsets are not committed) until it succeeds.
func (m *Materializer) Run(ctx context.Context) error {
	for {
		fetches := kafkax.PollBatch(ctx, m.client, m.cfg.MaxRecords, m.logger)
		if ctx.Err() != nil {
			m.client.AllowRebalance()
			return nil
		}
		// Views new to this consumer's partitions first, from ClickHouse;
		// the batch then applies to the same views.
		snap := m.views()
		for {
			n, err := m.filler.Run(ctx, snap.All(), m.owned.Partitions, m.cfg.TopicPrefix, m.now().UnixMilli())
			if n > 0 {
				m.records.WithLabelValues("backfilled").Add(float64(n))
				m.logger.Info("views backfilled from clickhouse", "events", n)
			}
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				m.client.AllowRebalance()
				return nil
			}
			m.logger.Warn("backfill failed, retrying", "error", err)
			select {
			case <-ctx.Done():
				m.client.AllowRebalance()
				return nil
			case <-time.After(m.cfg.Backoff):
			}
		}
		m.progress.fetched(fetches, m.now())
		recs := fetches.Records()
		if len(recs) > 0 {
			for {
				err := m.process(ctx, recs, snap)
				if err == nil {
					m.progress.applied(recs)
					break
				}
				if ctx.Err() != nil {
					m.client.AllowRebalance()
					return nil
				}
				if errors.Is(err, tiles.ErrFenced) || kafkax.LostMembership(err) {
					// Another consumer applied events of these entities
					// since this one read them, or the group no longer
					// counts this one as a member: the partitions are (or
					// are about to be) another's (this one's session timed
					// out, or it paused). Retrying would block the
					// rebalance for good. Drop the batch, uncommitted, and
					// read it again from its start: if the partitions are
					// still this consumer's, the records apply as
					// duplicates of what was written; if not, the group
					// revokes them.
					m.logger.Warn("batch fenced off by another consumer of its partitions, dropped", "records", len(recs), "error", err)
					m.client.SetOffsets(rewind(recs))
					break
				}
				m.logger.Warn("batch not applied, retrying", "records", len(recs), "error", err)
				select {
				case <-ctx.Done():
					m.client.AllowRebalance()
					return nil
				case <-time.After(m.cfg.Backoff):
				}
			}
		}
		m.client.AllowRebalance()
	}
}

type pending struct {
	rec    *kgo.Record
	update *tiles.Update
	index  int
}

// process stores, applies and commits one batch; an error leaves its offsets
// uncommitted.
func (m *Materializer) process(ctx context.Context, recs []*kgo.Record, snap *catalog.Snapshot) error {
	start := m.now()
	var evRows []offline.EventRow
	var evRecs []*kgo.Record // the record of each row
	var labelRows []offline.LabelRow
	var dlq []*kgo.Record
	updates := map[string]*tiles.Update{}
	var order []*tiles.Update
	var applied []pending
	unviewed := map[*kgo.Record]bool{} // records of streams no view reads
	counts := map[string]int{}
	var newest int64 // the latest instant an event of the batch counts from
	labelsTopic := m.cfg.TopicPrefix + event.TopicLabels
	eventsPrefix := m.cfg.TopicPrefix + event.TopicEventsPrefix
	for _, r := range recs {
		e, err := event.FromKafkaRecord(r)
		if err != nil {
			dlq = append(dlq, m.deadLetter(r, reason.UndecodableEvent, err.Error()))
			counts[string(reason.UndecodableEvent)]++
			continue
		}
		if r.Topic == labelsTopic {
			row, err := labelRow(e, r)
			if err != nil {
				dlq = append(dlq, m.deadLetter(r, reason.BadLabel, err.Error()))
				counts[string(reason.BadLabel)]++
				continue
			}
			labelRows = append(labelRows, row)
			counts["stored"]++
			continue
		}
		stream, ok := strings.CutPrefix(r.Topic, eventsPrefix)
		if !ok {
			continue
		}
		fields, bad := tiles.DecodeData(e.Data())
		plans := snap.ForStream(stream)
		evTime := e.Time()
		times := make([]int64, len(plans))
		for i, p := range plans {
			if bad != nil {
				break
			}
			t, err := tiles.EventTime(p.View.Source, fields, e.Time().UnixMilli())
			if err != nil {
				bad = fmt.Errorf("view %s: %w", p.View.Name, err)
				break
			}
			if p.View.Source.EventTime != "" {
				evTime = time.UnixMilli(t)
			}
			times[i] = t
		}
		if bad != nil && len(plans) > 0 {
			// No view can read it: dead-letter it, and keep it out of the
			// offline history too, so that training sets skip it as well.
			dlq = append(dlq, m.deadLetter(r, reason.BadEventData, bad.Error()))
			counts[string(reason.BadEventData)]++
			continue
		}
		id := tiles.EventID(e.Source(), e.ID())
		for i, p := range plans {
			key := p.View.Name + "\x00" + string(r.Key)
			u, ok := updates[key]
			if !ok {
				u = &tiles.Update{Plan: p, Entity: string(r.Key)}
				updates[key] = u
				order = append(order, u)
			}
			ev := tiles.Event{Time: times[i], ID: id, Seq: tiles.Seq{Partition: r.Partition, Offset: r.Offset}, Fields: fields}
			ev.Arrive(r.Timestamp.UnixMilli())
			newest = max(newest, ev.Time)
			u.Events = append(u.Events, ev)
			applied = append(applied, pending{rec: r, update: u, index: len(u.Events) - 1})
		}
		if len(plans) == 0 {
			counts["stored"]++
			unviewed[r] = true
		}
		evRows = append(evRows, offline.EventRow{
			Stream: stream, EventID: e.ID(), Source: e.Source(), Type: e.Type(), EntityKey: string(r.Key),
			EventTime: evTime, IngestTime: r.Timestamp, Partition: r.Partition, Offset: r.Offset, Data: string(e.Data()),
		})
		evRecs = append(evRecs, r)
	}
	batch, err := m.store.Prepare(ctx, order, m.now().UnixMilli())
	if err != nil {
		return err
	}
	// An event counts from min(event time, arrival); the arrival is the
	// record timestamp, from ingest's clock. Write nothing before this
	// clock reaches it, so that no read at this clock's now sees an event
	// that counts from later.
	if newest > 0 {
		if err := m.wait(ctx, time.UnixMilli(newest)); err != nil {
			return err
		}
	}
	// ClickHouse gets the events that count (applied by a view), and
	// those of streams no view reads: never a replay (already stored when
	// it was applied, since it is stored before Redis is written), a copy
	// or a late event, which the online path refused.
	counted := map[*kgo.Record]bool{}
	for _, a := range applied {
		if a.update.Outcomes[a.index] == tiles.Applied {
			counted[a.rec] = true
		}
	}
	stored := evRows[:0]
	for i, row := range evRows {
		if counted[evRecs[i]] || unviewed[evRecs[i]] {
			stored = append(stored, row)
		}
	}
	if err := m.offline.InsertEvents(ctx, stored); err != nil {
		return err
	}
	if err := m.offline.InsertLabels(ctx, labelRows); err != nil {
		return err
	}
	if err := batch.Commit(ctx); err != nil {
		return err
	}
	history, err := m.history(ctx, order)
	if err != nil {
		return err
	}
	if err := m.offline.InsertHistory(ctx, history); err != nil {
		return err
	}
	lateSeen := map[*kgo.Record]bool{}
	for _, a := range applied {
		o := a.update.Outcomes[a.index]
		switch o {
		case tiles.Applied:
			counts["applied"]++
		case tiles.Duplicate:
			counts["duplicate"]++
		case tiles.Late:
			counts["late"]++
			if !lateSeen[a.rec] {
				lateSeen[a.rec] = true
				dlq = append(dlq, m.deadLetter(a.rec, reason.LateEvent, fmt.Sprintf("event time older than the newest event of entity %q in view %s by more than its lateness %s", a.update.Entity, a.update.Plan.View.Name, a.update.Plan.View.Lateness)))
			}
		}
	}
	if len(dlq) > 0 {
		if err := m.client.ProduceSync(ctx, dlq...).FirstErr(); err != nil {
			return fmt.Errorf("dead-letter %d records: %w", len(dlq), err)
		}
	}
	if err := m.client.CommitRecords(ctx, recs...); err != nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	for k, n := range counts {
		m.records.WithLabelValues(k).Add(float64(n))
	}
	done := m.now()
	m.batchDur.Observe(done.Sub(start).Seconds())
	for _, r := range recs {
		m.lag.Observe(done.Sub(r.Timestamp).Seconds())
	}
	m.logger.Debug("batch applied", "records", len(recs), "keys", len(order), "dead_lettered", len(dlq))
	return nil
}

// waitUntil sleeps until the wall clock reaches t, or ctx ends.
func waitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// rewind returns the offsets of the first record of each partition of a
// batch, to read it again.
func rewind(recs []*kgo.Record) map[string]map[int32]kgo.EpochOffset {
	out := map[string]map[int32]kgo.EpochOffset{}
	for _, r := range recs {
		if out[r.Topic] == nil {
			out[r.Topic] = map[int32]kgo.EpochOffset{}
		}
		if cur, ok := out[r.Topic][r.Partition]; !ok || r.Offset < cur.Offset {
			out[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}
		}
	}
	return out
}

// history reads, after the batch was applied, the features of each touched
// entity of each view at the entity's newest event time (one pipelined round
// trip per view, with the read API's code) and returns them as
// feature_history rows. The instant is the newest event of the entity's
// state, not only of the batch: it is the batch's newest when events arrive
// in time order, and otherwise the state would hold events after the
// instant. A replayed record changes neither the state nor its newest time,
// so a replay yields the same rows, whatever its batch boundaries.
func (m *Materializer) history(ctx context.Context, order []*tiles.Update) ([]offline.HistoryRow, error) {
	byPlan := map[*tiles.Plan][]*tiles.Update{}
	var plans []*tiles.Plan
	for _, u := range order {
		if len(u.Events) == 0 || u.Newest == 0 {
			continue
		}
		if _, ok := byPlan[u.Plan]; !ok {
			plans = append(plans, u.Plan)
		}
		byPlan[u.Plan] = append(byPlan[u.Plan], u)
	}
	var rows []offline.HistoryRow
	for _, p := range plans {
		ups := byPlan[p]
		entities := make([]string, len(ups))
		asOf := make([]int64, len(ups))
		for i, u := range ups {
			entities[i] = u.Entity
			asOf[i] = u.Newest
		}
		vals, err := m.store.ReadEach(ctx, p, entities, asOf)
		if err != nil {
			return nil, fmt.Errorf("read feature history: %w", err)
		}
		for i, u := range ups {
			last := u.Events[len(u.Events)-1].Seq
			for j, f := range p.View.Features {
				row := offline.HistoryRow{
					View: p.View.Name, Version: p.View.Version, EntityKey: u.Entity, Feature: f.Name,
					AsOf: time.UnixMilli(asOf[i]), Value: vals[i][j].V,
					Partition: last.Partition, Offset: last.Offset,
				}
				if vals[i][j].V != nil {
					row.EventTime = time.UnixMilli(vals[i][j].Time)
				}
				rows = append(rows, row)
			}
		}
	}
	return rows, nil
}

func labelRow(e *ce.Event, r *kgo.Record) (offline.LabelRow, error) {
	if e.Type() != event.TypeLabelRecorded {
		return offline.LabelRow{}, fmt.Errorf("type %q on the label topic", e.Type())
	}
	var l event.LabelRecorded
	// Strictly: a misspelt field must not store a label without it.
	if err := model.UnmarshalStrict(e.Data(), &l); err != nil {
		return offline.LabelRow{}, fmt.Errorf("label data: %w", err)
	}
	if l.Stream == "" || l.EntityKey == "" || l.EventTime.IsZero() {
		return offline.LabelRow{}, errors.New("label without stream, entity_key or event_time")
	}
	return offline.LabelRow{
		Stream: l.Stream, EventID: e.ID(), Source: e.Source(), EntityKey: l.EntityKey,
		EventTime: l.EventTime, IngestTime: r.Timestamp, Value: l.Value, PredictionID: l.PredictionID,
		Partition: r.Partition, Offset: r.Offset, Data: string(e.Data()),
	}, nil
}

// deadLetter is the dead-letter record of the consumed record r
// (libs/deadletter): its key, value and headers, the reason and message,
// and its origin kafka:<topic>/<partition>/<offset>. It always fits the
// producer's limit, however large r is.
func (m *Materializer) deadLetter(r *kgo.Record, why reason.ID, msg string) *kgo.Record {
	return m.dlq.Record(deadletter.Letter{
		Reason: why, Error: msg, Origin: deadletter.FromRecord(r), Received: m.now(),
		Key: r.Key, Value: r.Value, Headers: r.Headers,
	})
}
