package consume_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/drift"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/services/monitor/internal/consume"
	"github.com/tributary-ml/tributary/services/monitor/internal/predlog"
	"github.com/tributary-ml/tributary/services/monitor/internal/reports"
	"github.com/tributary-ml/tributary/services/monitor/internal/windows"
)

// BenchmarkPredictionLog measures prediction-log rows per second into
// ClickHouse through the monitor (Kafka records on kfake, decoded, inserted
// into prediction_log, fed to the drift windows of a 20-feature reference,
// snapshotted, committed) beside clickhouse-go's raw PrepareBatch of the
// same rows, in batches of the same size, into the same table in the same
// run, the two sides alternating. It reports both rates and their ratio
// (goal ≥ 0.5). The monitor's time runs from its first fetched batch (it
// has joined its group) to its last commit; the group join before it is
// reported apart (join-s), and ratio-with-join counts it in.
//
//	cd services/monitor && go test -run '^$' -bench BenchmarkPredictionLog -benchtime 3x ./internal/consume/
func BenchmarkPredictionLog(b *testing.B) {
	const n, batch, features = 50000, 5000, 20
	h := newHarnessB(b)
	ctx := context.Background()
	xs := make([]float64, 1000)
	for i := range xs {
		xs[i] = float64(i) / 1000
	}
	ref := model.Reference{Features: map[string]model.Distribution{}, Prediction: model.NewNumeric(xs, 10)}
	for f := range features {
		ref.Features[fmt.Sprintf("v:f%02d", f)] = model.NewNumeric(xs, 10)
	}
	base := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	recs := make([]*kgo.Record, n)
	rows := make([]predlog.Row, n)
	for i := range n {
		at := base.Add(time.Duration(i) * 10 * time.Millisecond)
		feats := map[string]any{}
		for f := range features {
			feats[fmt.Sprintf("v:f%02d", f)] = float64((i*7+f)%1000) / 1000
		}
		e := ce.New()
		e.SetID(fmt.Sprintf("ev-%d", i))
		e.SetSource("tributary/serving")
		e.SetType(event.TypePredictionLogged)
		e.SetTime(at)
		if err := e.SetData(ce.ApplicationJSON, map[string]any{
			"prediction_id": fmt.Sprintf("b-%d", i), "model": "bench", "version": 1, "alias": "production", "entity_key": fmt.Sprintf("e%d", i%997),
			"features": feats, "prediction": float64(i%1000) / 1000, "event_time": at, "latency_seconds": 0.003,
		}); err != nil {
			b.Fatal(err)
		}
		r, err := event.ToKafkaRecord(ctx, e, h.topic)
		if err != nil {
			b.Fatal(err)
		}
		r.Key = []byte(fmt.Sprintf("e%d", i%997))
		recs[i] = r
		p, err := predlog.Decode(&kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: at})
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = predlog.NewRow(p, &kgo.Record{Timestamp: at, Offset: int64(i)})
	}
	producer := h.client()
	for i := 0; i < n; i += batch {
		if err := producer.ProduceSync(ctx, recs[i:min(i+batch, n)]...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	truncate := func() {
		if err := h.conn.Exec(ctx, "TRUNCATE TABLE "+h.db+".prediction_log"); err != nil {
			b.Fatal(err)
		}
	}
	adm := kadm.NewClient(h.client())
	var monitorTime, joinTime, rawTime time.Duration
	var batches uint64
	monitor := func(it int) {
		truncate()
		wcfg := windows.Config{Sizes: []time.Duration{5 * time.Minute, time.Hour}, Lateness: time.Minute, Drift: drift.DefaultConfig(), MissingShare: 0.1, OutOfRangeShare: 0.05, UnseenShare: 0.05}
		group := fmt.Sprintf("%sbench%d", h.prefix, it)
		cfg := consume.Config{Group: group, MaxRecords: batch, Backoff: 20 * time.Millisecond, TopicPrefix: h.prefix}
		first := &firstFetch{}
		cl := h.client(append(cfg.ConsumeOpts(), kgo.FetchMaxBytes(16<<20), kgo.FetchMaxPartitionBytes(8<<20), kgo.WithHooks(first))...)
		reg := prometheus.NewRegistry()
		c := consume.New(cfg, wcfg, slog.New(slog.DiscardHandler), reg, cl, predlog.NewWriter(h.conn, h.db), reports.NewWriter(h.conn, h.db), &recordedAlerts{}, fixedRefs{1: ref}, &memState{})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- c.Run(runCtx) }()
		waitCommitted(b, adm, h.topic, group, n)
		end := time.Now()
		fetched := first.at()
		monitorTime += end.Sub(fetched)
		joinTime += fetched.Sub(start)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		batches += batchCount(b, reg)
		cl.Close()
	}
	raw := func() {
		truncate()
		start := time.Now()
		for i := 0; i < n; i += batch {
			bt, err := h.conn.PrepareBatch(ctx, "INSERT INTO "+h.db+".prediction_log ("+predlog.Columns+")")
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range rows[i:min(i+batch, n)] {
				if err := bt.Append(r.Args()...); err != nil {
					b.Fatal(err)
				}
			}
			if err := bt.Send(); err != nil {
				b.Fatal(err)
			}
		}
		rawTime += time.Since(start)
		var got uint64
		if err := h.conn.QueryRow(ctx, "SELECT count() FROM "+h.db+".prediction_log").Scan(&got); err != nil || got != n {
			b.Fatalf("raw insert left %d rows, want %d (%v)", got, n, err)
		}
	}
	b.ResetTimer()
	for it := range b.N {
		// Alternated, so that neither side always follows the other's
		// background merges.
		if it%2 == 0 {
			monitor(it)
			raw()
		} else {
			raw()
			monitor(it)
		}
	}
	b.StopTimer()
	monitorRate := float64(n*b.N) / monitorTime.Seconds()
	rawRate := float64(n*b.N) / rawTime.Seconds()
	b.ReportMetric(monitorRate, "monitor-rows/s")
	b.ReportMetric(rawRate, "raw-rows/s")
	b.ReportMetric(monitorRate/rawRate, "ratio")
	b.ReportMetric(joinTime.Seconds()/float64(b.N), "join-s")
	b.ReportMetric(rawTime.Seconds()/(monitorTime+joinTime).Seconds(), "ratio-with-join")
	b.ReportMetric(float64(batches)/float64(b.N), "monitor-batches")
}

// firstFetch is a kgo hook keeping the time of the consumer's first fetched
// batch: the consumer has joined its group and has records.
type firstFetch struct {
	mu   sync.Mutex
	when time.Time
}

func (f *firstFetch) OnFetchBatchRead(kgo.BrokerMetadata, string, int32, kgo.FetchBatchMetrics) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.when.IsZero() {
		f.when = time.Now()
	}
}

func (f *firstFetch) at() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.when
}

// waitCommitted polls, every few milliseconds and for at most five minutes,
// until group has committed offset n of partition 0 of topic: the moment
// the monitor is done.
func waitCommitted(b *testing.B, adm *kadm.Client, topic, group string, n int64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	at := int64(-1)
	for {
		if offs, err := adm.FetchOffsets(ctx, group); err == nil {
			if o, ok := offs.Lookup(topic, 0); ok {
				at = o.At
			}
		}
		if at == n {
			return
		}
		select {
		case <-ctx.Done():
			b.Fatalf("group %s committed offset %d of %d after 5 min", group, at, n)
		case <-tick.C:
		}
	}
}

func batchCount(b *testing.B, reg *prometheus.Registry) uint64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "tributary_monitor_batch_duration_seconds" {
			hg := mf.GetMetric()[0].GetHistogram()
			b.Logf("batches %d, time in batches %.2fs", hg.GetSampleCount(), hg.GetSampleSum())
			return hg.GetSampleCount()
		}
	}
	return 0
}
