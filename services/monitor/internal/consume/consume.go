// Package consume is the monitor's consumer of tributary.predictions: per
// batch it appends the predictions to prediction_log, feeds them to the
// drift windows, writes the drift and data-quality rows of the windows that
// closed and publishes their alerts, dead-letters the records it cannot
// read, and only then commits the offsets. A batch that ClickHouse (or
// NATS, or Kafka) refuses is retried, uncommitted, until it succeeds.
package consume

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/monitor/internal/predlog"
	"github.com/tributary-ml/tributary/services/monitor/internal/windows"
)

// Config configures the consumer.
type Config struct {
	Group      string
	MaxRecords int
	Backoff    time.Duration
	// TopicPrefix is prepended to the topics (tests); not a flag.
	TopicPrefix string
}

// RegisterFlags registers the consumer's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "monitor.group", "tributary-monitor", "Kafka consumer group of the prediction log consumer.")
	fs.IntVar(&c.MaxRecords, "monitor.max-records", 5000, "Most prediction records in one batch (one ClickHouse insert, one commit).")
	fs.DurationVar(&c.Backoff, "monitor.retry-backoff", 500*time.Millisecond, "Wait before retrying a batch that ClickHouse, NATS, the registry or Kafka refused.")
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return errors.New("monitor.group: empty")
	case c.MaxRecords < 1:
		return fmt.Errorf("monitor.max-records: %d is not positive", c.MaxRecords)
	case c.Backoff <= 0:
		return fmt.Errorf("monitor.retry-backoff: %v is not positive", c.Backoff)
	}
	return nil
}

// ConsumeOpts are the consumer options of the monitor's Kafka client.
func (c Config) ConsumeOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumerGroup(c.Group),
		kgo.ConsumeTopics(c.TopicPrefix + event.TopicPredictions),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
}

type logWriter interface {
	Insert(ctx context.Context, rows []predlog.Row) error
}

type reportWriter interface {
	Insert(ctx context.Context, metrics []windows.MetricRow, quality []windows.QualityRow) error
}

type alerter interface {
	Publish(ctx context.Context, drift []event.DriftDetected, quality []event.DataQualityBreached) error
}

// snapshots keeps the drift state; Load returns nil when there is none.
type snapshots interface {
	Load(ctx context.Context) ([]byte, error)
	Save(ctx context.Context, b []byte) error
}

type references interface {
	Reference(ctx context.Context, model string, version int) (model.Reference, bool, error)
}

// Consumer consumes, writes and commits.
type Consumer struct {
	cfg     Config
	wcfg    windows.Config
	logger  *slog.Logger
	client  *kgo.Client
	log     logWriter
	reports reportWriter
	alerts  alerter
	refs    references
	tracker *windows.Tracker
	state   snapshots
	// included is the last offset per topic/partition the drift state
	// includes: a replayed record at or below it is logged again but not
	// counted in drift again.
	included map[string]int64
	dlq      deadletter.Builder
	now      func() time.Time
	// noRef remembers the versions without a reference, to log each once.
	noRef map[string]bool
	// decoders are the decoders of decodeAll, one per worker, kept across
	// batches for the strings they share.
	decoders []*predlog.Decoder

	records *prometheus.CounterVec
	writes  *prometheus.CounterVec
	alertsN *prometheus.CounterVec
	open    prometheus.Gauge
	batch   prometheus.Histogram
}

// New returns a consumer reading with client (built with cfg.ConsumeOpts).
func New(cfg Config, wcfg windows.Config, logger *slog.Logger, reg prometheus.Registerer, client *kgo.Client, log logWriter, reports reportWriter, alerts alerter, refs references, state snapshots) *Consumer {
	f := promauto.With(reg)
	dlqTopic := ""
	if cfg.TopicPrefix != "" {
		dlqTopic = cfg.TopicPrefix + deadletter.Topic
	}
	return &Consumer{
		cfg: cfg, wcfg: wcfg, logger: logger, client: client, log: log, reports: reports, alerts: alerts, refs: refs,
		tracker: windows.NewTracker(wcfg), dlq: deadletter.Builder{Service: "monitor", Topic: dlqTopic}, now: time.Now,
		noRef: map[string]bool{}, state: state, included: map[string]int64{},
		records: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_monitor_predictions_total",
			Help: "Prediction records consumed, by outcome: logged, and the reasons (undecodable_event and bad_prediction are dead-lettered; no_reference, late and replayed (already in the drift snapshot) are logged but not counted in drift).",
		}, []string{"outcome"}),
		writes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_monitor_write_failures_total",
			Help: "Failed attempts of a batch step, by step (prediction_log, reference, reports, alerts, dead_letter, snapshot, snapshot_load, commit); the batch is retried uncommitted.",
		}, []string{"step"}),
		alertsN: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_monitor_alerts_total",
			Help: "Alerts published (one per breach and window), by kind: drift (tributary.drift.detected.v1) or quality (tributary.drift.quality_breached.v1).",
		}, []string{"kind"}),
		open: f.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_monitor_open_windows",
			Help: "Drift windows open in memory.",
		}),
		batch: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_monitor_batch_duration_seconds",
			Help:    "Time to write and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
}

// Run restores the drift state from its snapshot, then consumes until ctx
// ends; it returns nil on cancellation.
func (c *Consumer) Run(ctx context.Context) error {
	var snap []byte
	if err := c.retry(ctx, "snapshot_load", func() error {
		var err error
		snap, err = c.state.Load(ctx)
		return err
	}); err != nil {
		return nil
	}
	if snap != nil {
		included, err := c.tracker.Restore(snap)
		if err != nil {
			// A snapshot this release cannot read: start the windows
			// afresh rather than stop the prediction log.
			c.logger.Error("drift snapshot not restored, windows start empty", "error", err)
			c.tracker = windows.NewTracker(c.wcfg)
		} else {
			c.included = included
			c.logger.Info("drift windows restored from the snapshot", "windows", c.tracker.Open(), "watermark", c.tracker.Watermark())
		}
	}
	for {
		fetches := kafkax.PollBatch(ctx, c.client, c.cfg.MaxRecords, c.logger)
		if ctx.Err() != nil {
			c.client.AllowRebalance()
			return nil
		}
		if recs := fetches.Records(); len(recs) > 0 {
			if err := c.process(ctx, recs); err != nil {
				c.client.AllowRebalance()
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		c.client.AllowRebalance()
	}
}

// retry runs one step of a batch until it succeeds or ctx ends.
func (c *Consumer) retry(ctx context.Context, step string, f func() error) error {
	return kafkax.StepRetrier{Backoff: c.cfg.Backoff, Failures: c.writes, Logger: c.logger, What: "batch step"}.Do(ctx, step, f)
}

// process writes one batch and commits it; every step is retried until it
// succeeds, so an error is only the end of ctx.
func (c *Consumer) process(ctx context.Context, recs []*kgo.Record) error {
	start := c.now()
	counts := map[string]int{}
	var rows []predlog.Row
	var preds []predlog.Prediction
	var dlq []*kgo.Record
	decodedRecs := c.decodeAll(recs)
	rows = make([]predlog.Row, 0, len(recs))
	preds = make([]predlog.Prediction, 0, len(recs))
	for i, r := range recs {
		p, err := decodedRecs[i].p, decodedRecs[i].err
		if err != nil {
			var re *predlog.RecordError
			id := reason.UndecodableEvent
			if errors.As(err, &re) {
				id = re.Reason
			}
			counts[string(id)]++
			dlq = append(dlq, c.dlq.Record(deadletter.Letter{
				Reason: id, Error: err.Error(), Origin: deadletter.FromRecord(r), Received: c.now(),
				Key: r.Key, Value: r.Value, Headers: r.Headers,
			}))
			continue
		}
		rows = append(rows, decodedRecs[i].row)
		if last, ok := c.included[position(r)]; ok && r.Offset <= last {
			counts["replayed"]++
			continue
		}
		preds = append(preds, p)
	}
	decoded := c.now()
	if err := c.retry(ctx, "prediction_log", func() error { return c.log.Insert(ctx, rows) }); err != nil {
		return err
	}
	inserted := c.now()
	counts["logged"] += len(rows)
	// The drift windows: after the rows are in, so a retried insert never
	// counts a prediction twice.
	for _, p := range preds {
		var ref model.Reference
		var ok bool
		if err := c.retry(ctx, "reference", func() error {
			var err error
			ref, ok, err = c.refs.Reference(ctx, p.Model, p.Version)
			return err
		}); err != nil {
			return err
		}
		if !ok {
			counts[string(reason.NoReference)]++
			if key := fmt.Sprintf("%s v%d", p.Model, p.Version); !c.noRef[key] {
				c.noRef[key] = true
				c.logger.Warn("model version has no reference distribution: no drift computed for it", "model", p.Model, "version", p.Version)
			}
			continue
		}
		o, err := c.tracker.Add(p, ref)
		if err != nil {
			// The reference and the window disagree: a bug, not the record's fault.
			c.logger.Error("prediction not added to its drift window", "model", p.Model, "version", p.Version, "error", err)
			counts["drift_error"]++
			continue
		}
		if o == windows.Late {
			counts["late"]++
		}
	}
	fed := c.now()
	var res windows.Result
	for _, cl := range c.tracker.Close() {
		if !cl.Ref.OK {
			// Restored from the snapshot and not fed since: read its
			// reference again.
			if err := c.retry(ctx, "reference", func() error {
				ref, ok, err := c.refs.Reference(ctx, cl.Key.Model, cl.Key.Version)
				cl.Ref = windows.Reference{Ref: ref, OK: ok}
				return err
			}); err != nil {
				return err
			}
		}
		r, err := windows.Evaluate(cl, c.wcfg, c.now())
		if err != nil {
			c.logger.Error("drift window not evaluated", "model", cl.Key.Model, "version", cl.Key.Version, "error", err)
			continue
		}
		res.Metrics = append(res.Metrics, r.Metrics...)
		res.Quality = append(res.Quality, r.Quality...)
		res.Alerts = append(res.Alerts, r.Alerts...)
		res.QualityAlerts = append(res.QualityAlerts, r.QualityAlerts...)
	}
	c.open.Set(float64(c.tracker.Open()))
	if err := c.retry(ctx, "reports", func() error { return c.reports.Insert(ctx, res.Metrics, res.Quality) }); err != nil {
		return err
	}
	if err := c.retry(ctx, "alerts", func() error { return c.alerts.Publish(ctx, res.Alerts, res.QualityAlerts) }); err != nil {
		return err
	}
	c.alertsN.WithLabelValues("drift").Add(float64(len(res.Alerts)))
	c.alertsN.WithLabelValues("quality").Add(float64(len(res.QualityAlerts)))
	if len(dlq) > 0 {
		if err := c.retry(ctx, "dead_letter", func() error { return c.client.ProduceSync(ctx, dlq...).FirstErr() }); err != nil {
			return err
		}
	}
	// The snapshot includes the whole batch; it is written before the
	// commit, so a restart resumes from it and skips, for drift, the
	// records it includes.
	for _, r := range recs {
		pos := position(r)
		if last, ok := c.included[pos]; !ok || r.Offset > last {
			c.included[pos] = r.Offset
		}
	}
	snap, err := c.tracker.Snapshot(c.included)
	if err != nil {
		return fmt.Errorf("snapshot drift windows: %w", err)
	}
	if err := c.retry(ctx, "snapshot", func() error { return c.state.Save(ctx, snap) }); err != nil {
		return err
	}
	if err := c.retry(ctx, "commit", func() error {
		err := c.client.CommitRecords(ctx, recs...)
		if kafkax.LostMembership(err) {
			// The partitions are (about to be) another consumer's: it
			// reads the batch again; its rows collapse with these.
			c.logger.Warn("commit refused: no longer a member of the group, batch left to the next owner", "records", len(recs), "error", err)
			return nil
		}
		return err
	}); err != nil {
		return err
	}
	for k, n := range counts {
		c.records.WithLabelValues(k).Add(float64(n))
	}
	done := c.now()
	c.batch.Observe(done.Sub(start).Seconds())
	c.logger.Debug("batch written", "records", len(recs), "decode", decoded.Sub(start), "insert", inserted.Sub(decoded), "drift", fed.Sub(inserted), "rest", done.Sub(fed))
	return nil
}

type decoded struct {
	p   predlog.Prediction
	row predlog.Row
	err error
}

// decodeAll decodes the records and builds their rows on every core:
// decoding is most of the client's work per batch, and ClickHouse waits
// for it.
func (c *Consumer) decodeAll(recs []*kgo.Record) []decoded {
	out := make([]decoded, len(recs))
	workers := min(runtime.GOMAXPROCS(0), len(recs)/256+1)
	for len(c.decoders) < workers {
		c.decoders = append(c.decoders, predlog.NewDecoder())
	}
	var wg sync.WaitGroup
	chunk := (len(recs) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(recs))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(d *predlog.Decoder) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				out[i].p, out[i].err = d.Decode(recs[i])
				if out[i].err == nil {
					out[i].row = predlog.NewRow(out[i].p, recs[i])
				}
			}
		}(c.decoders[w])
	}
	wg.Wait()
	return out
}

// position names a record's topic and partition in the snapshot.
func position(r *kgo.Record) string { return r.Topic + "/" + strconv.Itoa(int(r.Partition)) }
