package labels

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/monitor/internal/aliaspolicy"
	"github.com/tributary-ml/tributary/services/monitor/internal/performance"
)

// Config configures the label consumer.
type Config struct {
	Group         string
	MaxRecords    int
	SweepInterval time.Duration
	PendingMaxAge time.Duration
	// SweepLimit is the most pending labels one sweep joins again; not a
	// flag.
	SweepLimit int
	// Backoff is the wait before a failed step is retried (the consumer's
	// -monitor.retry-backoff); not a flag of its own.
	Backoff time.Duration
	// TopicPrefix is prepended to the topics (tests); not a flag.
	TopicPrefix string
}

// RegisterFlags registers the flags under "labels.".
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "labels.group", "tributary-monitor-labels", "Kafka consumer group of the label consumer (tributary.labels).")
	fs.IntVar(&c.MaxRecords, "labels.max-records", 5000, "Most label records in one batch (one join, one commit).")
	fs.DurationVar(&c.SweepInterval, "labels.sweep-interval", 30*time.Second, "How often the labels whose prediction was not logged yet are joined again.")
	fs.DurationVar(&c.PendingMaxAge, "labels.pending-max-age", 24*time.Hour, "How long after it reached Kafka a label whose prediction is not logged is still joined again; older ones stay in monitor_labels, unjoined.")
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return errors.New("labels.group: empty")
	case c.MaxRecords < 1:
		return fmt.Errorf("labels.max-records: %d is not positive", c.MaxRecords)
	case c.SweepInterval <= 0:
		return fmt.Errorf("labels.sweep-interval: %v is not positive", c.SweepInterval)
	case c.PendingMaxAge <= 0:
		return fmt.Errorf("labels.pending-max-age: %v is not positive", c.PendingMaxAge)
	}
	return nil
}

// ConsumeOpts are the consumer options of the label consumer's Kafka client.
func (c Config) ConsumeOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumerGroup(c.Group),
		kgo.ConsumeTopics(c.TopicPrefix + event.TopicLabels),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
}

// Store is what the consumer reads and writes in ClickHouse
// (performance.Store).
type Store interface {
	InsertLabels(ctx context.Context, ls []performance.Label) error
	Pending(ctx context.Context, since time.Time, limit int) ([]performance.Label, error)
	ByID(ctx context.Context, ids []string) ([]performance.Prediction, error)
	ByEntity(ctx context.Context, models, entities []string, from, to time.Time) ([]performance.Prediction, error)
	InsertJoined(ctx context.Context, js []performance.Joined) error
	Labelled(ctx context.Context, model string, start, end time.Time) (map[performance.Key][]performance.LabelledPair, error)
	Counts(ctx context.Context, model string, start, end time.Time, attribute string, cut float64) (map[performance.Key][]performance.GroupCount, error)
	Breaches(ctx context.Context, model string, start time.Time, size time.Duration) (perf, fair map[performance.Key][]string, err error)
	InsertResults(ctx context.Context, perf []performance.Row, fair []performance.FairnessRow) error
}

// Publisher publishes one alert (alerts.Publisher).
type Publisher interface {
	PublishEvent(ctx context.Context, typ, id, subj string, at time.Time, data any) error
}

// Roller applies the alias policy: rollback and promotion
// (aliaspolicy.Policy).
type Roller interface {
	Apply(ctx context.Context, rows []performance.Row) ([]aliaspolicy.Action, error)
}

// Consumer consumes labels, joins, computes, alerts and commits.
type Consumer struct {
	cfg    Config
	perf   *performance.Config
	logger *slog.Logger
	client *kgo.Client
	store  Store
	alerts Publisher
	roller Roller
	dlq    deadletter.Builder
	now    func() time.Time

	records    *prometheus.CounterVec
	writes     *prometheus.CounterVec
	alertsN    *prometheus.CounterVec
	rollbacks  *prometheus.CounterVec
	promotions prometheus.Counter
	pending    prometheus.Gauge
}

// New returns a consumer reading with client (built with cfg.ConsumeOpts).
func New(cfg Config, perf *performance.Config, logger *slog.Logger, reg prometheus.Registerer, client *kgo.Client, store Store, alerts Publisher, roller Roller) *Consumer {
	f := promauto.With(reg)
	dlqTopic := ""
	if cfg.TopicPrefix != "" {
		dlqTopic = cfg.TopicPrefix + deadletter.Topic
	}
	if cfg.SweepLimit <= 0 {
		cfg.SweepLimit = 10000
	}
	return &Consumer{
		cfg: cfg, perf: perf, logger: logger, client: client, store: store, alerts: alerts, roller: roller,
		dlq: deadletter.Builder{Service: "monitor", Topic: dlqTopic}, now: time.Now,
		records: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_monitor_labels_total",
			Help: "Label records consumed, by outcome: joined (with at least one prediction), unknown_prediction (kept for a later join), bad_label (dead-lettered), joined_late (joined by a sweep after it was unknown).",
		}, []string{"outcome"}),
		writes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_monitor_label_write_failures_total",
			Help: "Failed attempts of a step of the label consumer, by step (labels, join, prediction_labels, evaluate, alerts, performance, rollback, dead_letter, commit, sweep); retried, nothing committed meanwhile.",
		}, []string{"step"}),
		alertsN: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_monitor_performance_alerts_total",
			Help: "Performance and fairness alerts published (one per breach and window), by kind: performance (tributary.performance.degraded.v1) or fairness (tributary.performance.fairness_breached.v1).",
		}, []string{"kind"}),
		rollbacks: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_monitor_rollbacks_total",
			Help: "Aliases the rollback policy moved back, by alias (production: rolled back; canary: deleted).",
		}, []string{"alias"}),
		promotions: f.NewCounter(prometheus.CounterOpts{
			Name: "tributary_monitor_promotions_total",
			Help: "Canaries the promotion policy made production.",
		}),
		pending: f.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_monitor_labels_pending",
			Help: "Labels younger than -labels.pending-max-age whose prediction is not logged yet, as of the last sweep.",
		}),
	}
}

// Run consumes until ctx ends; it returns nil on cancellation.
func (c *Consumer) Run(ctx context.Context) error {
	lastSweep := c.now()
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
		if c.now().Sub(lastSweep) >= c.cfg.SweepInterval {
			if err := c.Sweep(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			lastSweep = c.now()
		}
	}
}

// retry runs one step of a batch until it succeeds or ctx ends.
func (c *Consumer) retry(ctx context.Context, step string, f func() error) error {
	return kafkax.StepRetrier{Backoff: c.cfg.Backoff, Failures: c.writes, Logger: c.logger, What: "label step"}.Do(ctx, step, f)
}

// process handles one batch and commits it; every step is retried until it
// succeeds, so an error is only the end of ctx.
func (c *Consumer) process(ctx context.Context, recs []*kgo.Record) error {
	var ls []performance.Label
	var dlq []*kgo.Record
	counts := map[string]int{}
	for _, r := range recs {
		l, err := Decode(r)
		if err != nil {
			var re *RecordError
			id := reason.BadLabel
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
		ls = append(ls, l)
	}
	// Every label first: one whose prediction is not logged yet waits
	// there for the sweep.
	if err := c.retry(ctx, "labels", func() error { return c.store.InsertLabels(ctx, ls) }); err != nil {
		return err
	}
	joined, unmatched, err := c.join(ctx, ls)
	if err != nil {
		return err
	}
	counts[string(reason.UnknownPrediction)] += len(unmatched)
	counts["joined"] += len(ls) - len(unmatched)
	if len(unmatched) > 0 {
		c.logger.Debug("labels without a logged prediction kept for a later join", "labels", len(unmatched))
	}
	if err := c.apply(ctx, joined); err != nil {
		return err
	}
	if len(dlq) > 0 {
		if err := c.retry(ctx, "dead_letter", func() error { return c.client.ProduceSync(ctx, dlq...).FirstErr() }); err != nil {
			return err
		}
	}
	if err := c.retry(ctx, "commit", func() error {
		err := c.client.CommitRecords(ctx, recs...)
		if kafkax.LostMembership(err) {
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
	return nil
}

// join joins labels and writes the joined pairs to prediction_labels.
func (c *Consumer) join(ctx context.Context, ls []performance.Label) (joined []performance.Joined, unmatched []performance.Label, err error) {
	if len(ls) == 0 {
		return nil, nil, nil
	}
	if err := c.retry(ctx, "join", func() error {
		var err error
		joined, unmatched, err = performance.Join(ctx, c.perf, c.store, ls)
		return err
	}); err != nil {
		return nil, nil, err
	}
	if err := c.retry(ctx, "prediction_labels", func() error { return c.store.InsertJoined(ctx, joined) }); err != nil {
		return nil, nil, err
	}
	return joined, unmatched, nil
}

// apply recomputes the windows the joined predictions belong to, publishes
// their new alerts (before the rows that record the breaches, so a crash in
// between publishes again rather than never), writes the rows and applies
// the rollback policy.
func (c *Consumer) apply(ctx context.Context, joined []performance.Joined) error {
	if len(joined) == 0 {
		return nil
	}
	seen := map[performance.Window]bool{}
	var ws []performance.Window
	for _, j := range joined {
		for _, w := range performance.Windows(j.Model, j.Time, c.perf.Sizes) {
			if !seen[w] {
				seen[w] = true
				ws = append(ws, w)
			}
		}
	}
	slices.SortFunc(ws, func(a, b performance.Window) int {
		switch {
		case a.Model != b.Model:
			if a.Model < b.Model {
				return -1
			}
			return 1
		case !a.Start.Equal(b.Start):
			return a.Start.Compare(b.Start)
		}
		return int(a.Size - b.Size)
	})
	var res performance.Result
	if err := c.retry(ctx, "evaluate", func() error {
		var err error
		res, err = performance.Evaluate(ctx, c.perf, c.store, ws, c.now())
		return err
	}); err != nil {
		return err
	}
	if err := c.retry(ctx, "alerts", func() error {
		for _, d := range res.Degraded {
			if err := c.alerts.PublishEvent(ctx, event.TypePerformanceDegraded, performance.DegradedID(d), d.Model, d.WindowEnd, d); err != nil {
				return err
			}
		}
		for _, f := range res.FairnessBreached {
			if err := c.alerts.PublishEvent(ctx, event.TypeFairnessBreached, performance.FairnessID(f), f.Model, f.WindowEnd, f); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	c.alertsN.WithLabelValues("performance").Add(float64(len(res.Degraded)))
	c.alertsN.WithLabelValues("fairness").Add(float64(len(res.FairnessBreached)))
	if err := c.retry(ctx, "performance", func() error { return c.store.InsertResults(ctx, res.Performance, res.Fairness) }); err != nil {
		return err
	}
	if c.roller == nil {
		return nil
	}
	return c.retry(ctx, "rollback", func() error {
		actions, err := c.roller.Apply(ctx, res.Performance)
		for _, a := range actions {
			if a.Kind == aliaspolicy.KindPromotion {
				c.promotions.Inc()
			} else {
				c.rollbacks.WithLabelValues(a.Alias).Inc()
			}
		}
		return err
	})
}

// Sweep joins again the labels younger than -labels.pending-max-age whose
// prediction was not logged when they arrived.
func (c *Consumer) Sweep(ctx context.Context) error {
	var pending []performance.Label
	if err := c.retry(ctx, "sweep", func() error {
		var err error
		pending, err = c.store.Pending(ctx, c.now().Add(-c.cfg.PendingMaxAge), c.cfg.SweepLimit)
		return err
	}); err != nil {
		return err
	}
	joined, unmatched, err := c.join(ctx, pending)
	if err != nil {
		return err
	}
	c.pending.Set(float64(len(unmatched)))
	if n := len(pending) - len(unmatched); n > 0 {
		c.records.WithLabelValues("joined_late").Add(float64(n))
		c.logger.Info("pending labels joined", "labels", n, "still_pending", len(unmatched))
	}
	return c.apply(ctx, joined)
}
