package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/schemas"
)

// TestMetricsQuantile checks the histogram quantile against values whose
// position in the buckets is known, on the text a real registry writes.
func TestMetricsQuantile(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := promauto.With(reg).NewHistogramVec(prometheus.HistogramOpts{Name: "lag_seconds", Buckets: []float64{0.1, 0.5, 1, 5}}, []string{"p"})
	// 90 in (0, 0.1], 9 in (0.5, 1], 1 in (5, +Inf), over two series.
	for i := range 90 {
		h.WithLabelValues([]string{"a", "b"}[i%2]).Observe(0.05)
	}
	for range 9 {
		h.WithLabelValues("a").Observe(0.7)
	}
	h.WithLabelValues("b").Observe(9)
	c := promauto.With(reg).NewCounterVec(prometheus.CounterOpts{Name: "events_total"}, []string{"outcome", "reason"})
	c.WithLabelValues("rejected", "bad_data").Add(3)
	c.WithLabelValues("rejected", "unknown_type").Add(2)
	c.WithLabelValues("accepted", "none").Add(40)
	m, err := parseMetrics(scrapeText(t, reg))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q, want float64
	}{
		{0.5, 0.1 * 50 / 90},          // the 50th of 90 in the first bucket
		{0.9, 0.1},                    // the last of the first bucket
		{0.95, 0.5 + 0.5*(95-90)/9.0}, // the 5th of 9 in (0.5, 1]
		{0.999, 5},                    // in +Inf: the largest finite bound
	} {
		got, n, ok := m.quantile("lag_seconds", tc.q)
		if !ok || n != 100 || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("quantile %g = %g (count %d, %v), want %g", tc.q, got, n, ok, tc.want)
		}
	}
	if _, _, ok := m.quantile("absent", 0.99); ok {
		t.Error("quantile of an absent histogram is ok")
	}
	rej := m.sum("events_total", "reason", map[string]string{"outcome": "rejected"})
	if len(rej) != 2 || rej["bad_data"] != 3 || rej["unknown_type"] != 2 {
		t.Errorf("rejected by reason %v", rej)
	}
}

func scrapeText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// statusFakes serves the HTTP routes status reads, in the shapes the
// services answer (their READMEs), with the metrics written by a real
// Prometheus registry.
func statusFakes(t *testing.T) map[string]string {
	t.Helper()
	ingestReg := prometheus.NewRegistry()
	promauto.With(ingestReg).NewCounterVec(prometheus.CounterOpts{Name: "tributary_ingest_dlq_records_total"}, []string{"outcome"}).WithLabelValues("ok").Add(7)
	ev := promauto.With(ingestReg).NewCounterVec(prometheus.CounterOpts{Name: "tributary_ingest_events_total"}, []string{"path", "outcome", "reason"})
	ev.WithLabelValues("http", "rejected", "schema_violation").Add(5)
	ev.WithLabelValues("kafka", "rejected", "schema_violation").Add(1)
	ev.WithLabelValues("http", "rejected", "unknown_type").Add(1)
	ev.WithLabelValues("http", "accepted", "none").Add(100)
	featuresReg := prometheus.NewRegistry()
	mat := promauto.With(featuresReg).NewCounterVec(prometheus.CounterOpts{Name: "tributary_features_materialized_records_total"}, []string{"outcome"})
	mat.WithLabelValues("applied").Add(500)
	mat.WithLabelValues("late").Add(2)
	mat.WithLabelValues("bad_label").Add(1)
	lag := promauto.With(featuresReg).NewHistogram(prometheus.HistogramOpts{Name: "tributary_features_materialize_lag_seconds", Buckets: []float64{0.01, 0.1, 1}})
	for range 100 {
		lag.Observe(0.05)
	}
	ready := func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/readyz" {
			io.WriteString(w, `{"status":"ready","checks":{"nats":{"error":""}}}`)
			return true
		}
		return false
	}
	srv := func(h http.HandlerFunc) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s.URL
	}
	urls := map[string]string{}
	urls["ingest"] = srv(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case ready(w, r):
		case r.URL.Path == "/v1/streams":
			io.WriteString(w, `{"streams":[{"name":"clicks","type":"com.example.click.v1"},{"name":"idle","type":"com.example.idle.v1"}]}`)
		case r.URL.Path == "/metrics":
			io.WriteString(w, scrapeText(t, ingestReg))
		}
	})
	urls["features"] = srv(func(w http.ResponseWriter, r *http.Request) {
		if !ready(w, r) && r.URL.Path == "/metrics" {
			io.WriteString(w, scrapeText(t, featuresReg))
		}
	})
	urls["registry"] = srv(func(w http.ResponseWriter, r *http.Request) {
		if !ready(w, r) && r.URL.Path == "/v1/models" {
			json.NewEncoder(w).Encode([]model.ModelInfo{{Model: model.Model{Name: "fraud", LatestVersion: 3},
				Aliases: []model.Alias{{Name: "canary", Version: 3, Weight: ptr(0.1)}, {Name: "production", Version: 2}}}})
		}
	})
	urls["trainer"] = srv(func(w http.ResponseWriter, r *http.Request) {
		if !ready(w, r) && r.URL.Path == "/v1/jobs" {
			io.WriteString(w, `{"jobs":[
{"job_id":"j3","model":"fraud","trigger":"drift","status":"running","created_at":"2026-12-01T10:00:00Z","steps":[{"name":"dataset","status":"done"},{"name":"train","status":"running"},{"name":"evaluate","status":"pending"}]},
{"job_id":"j2","model":"fraud","trigger":"manual","status":"succeeded","created_at":"2026-12-01T09:00:00Z","steps":[]}]}`)
		}
	})
	urls["serving"] = srv(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"status":"not ready","checks":{"models":{"error":"loading fraud v3"},"nats":{}}}`)
	})
	// The monitor: an address nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	urls["monitor"] = "http://" + l.Addr().String()
	l.Close()
	return urls
}

// statusDatabase is a migrated scratch database with a minute of events,
// predictions and two drift windows, written as the services write them.
func statusDatabase(t *testing.T, ctx context.Context) (chx.Config, func(string)) {
	t.Helper()
	db := migrateTestDatabase(t)
	cfg := chx.Config{Addr: testkit.ClickHouseAddr(t), Database: db, Username: "default", DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	conn, err := chx.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := chx.Migrate(ctx, conn, db, schemas.ClickHouseMigrations(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	batch := func(q string, rows ...[]any) {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if err := b.Append(r...); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	// 30 clicks in the last minute, one of them twice (a replay), and one
	// an hour ago.
	var events [][]any
	for i := range 30 {
		events = append(events, []any{"clicks", "e" + string(rune('a'+i%26)) + string(rune('a'+i/26)), "/shop", now.Add(-time.Duration(i) * time.Second)})
	}
	events = append(events, events[0], []any{"clicks", "old", "/shop", now.Add(-time.Hour)})
	batch("INSERT INTO "+db+".events (stream, event_id, source, ingest_time)", events...)
	// 60 predictions of fraud by production (latency 1..60 ms), 6 by
	// canary; feature ages of the view txn 0.5 s, one of 30 s.
	var preds [][]any
	for i := range 66 {
		route := "production"
		if i >= 60 {
			route = "canary"
		}
		age := 0.5
		if i == 0 {
			age = 30
		}
		preds = append(preds, []any{"p" + time.Duration(i).String(), now.Add(-time.Duration(i%50) * time.Second), "fraud", uint32(2), route,
			float64(i%60+1) / 1000, []string{"txn:amount_sum_1h", "txn:count_1h"}, []float64{age, age}})
	}
	batch("INSERT INTO "+db+".prediction_log (prediction_id, event_time, model, version, route, latency_seconds, feature_age_names, feature_age_seconds)", preds...)
	// An older window with nothing drifted, the latest with the amount
	// drifted by PSI, and the prediction judged.
	w1, w2 := now.Add(-20*time.Minute).Truncate(5*time.Minute), now.Add(-10*time.Minute).Truncate(5*time.Minute)
	q := "INSERT INTO " + db + ".drift_metrics (model, version, target, feature, method, window_start, window_size_seconds, window_end, value, threshold, drifted, skipped, computed_ms)"
	batch(q,
		[]any{"fraud", uint32(2), "feature", "txn:amount_sum_1h", "psi", w1, uint32(300), w1.Add(5 * time.Minute), 0.01, 0.2, uint8(0), "", uint64(1)},
		[]any{"fraud", uint32(2), "feature", "txn:amount_sum_1h", "psi", w2, uint32(300), w2.Add(5 * time.Minute), 0.42, 0.2, uint8(1), "", uint64(1)},
		[]any{"fraud", uint32(2), "feature", "txn:count_1h", "psi", w2, uint32(300), w2.Add(5 * time.Minute), 0.05, 0.2, uint8(0), "", uint64(1)},
		[]any{"fraud", uint32(2), "prediction", "", "psi", w2, uint32(300), w2.Add(5 * time.Minute), 0.0, 0.2, uint8(0), "few_values", uint64(1)},
	)
	exec := func(q string) {
		t.Helper()
		if err := conn.Exec(ctx, strings.ReplaceAll(q, "${db}", db)); err != nil {
			t.Fatal(err)
		}
	}
	return cfg, exec
}

// TestStatus gathers the report from services that answer, one that is
// not ready, one that is unreachable, and the ClickHouse tables, and
// checks each figure against what was written.
func TestStatus(t *testing.T) {
	ctx := context.Background()
	cfg, exec := statusDatabase(t, ctx)
	urls := statusFakes(t)
	o := statusOptions{urls: map[string]*string{}, clickhouse: cfg, window: time.Minute, timeout: 10 * time.Second, output: "table",
		kafka: kafkax.Config{Brokers: strings.Join(testkit.KafkaBrokers(t), ","), DialTimeout: 5 * time.Second}, dlqTopic: dlqTopic(t, 3)}
	dlq := o.dlqTopic
	for s, u := range urls {
		o.urls[s] = &u
	}
	// Migration 007 creates model_performance; a database without it (a
	// monitor of an older release) shows no performance section, and the
	// table is created below in another shape.
	exec(`DROP TABLE IF EXISTS ${db}.model_performance`)
	r := gatherStatus(ctx, o, http.DefaultClient)

	byName := map[string]serviceStatus{}
	for _, s := range r.Services {
		byName[s.Name] = s
	}
	if s := byName["ingest"]; !s.Ready || s.Error != "" {
		t.Errorf("ingest %+v", s)
	}
	if s := byName["serving"]; s.Ready || s.Error != "" || strings.Join(s.Failing, ",") != "models" {
		t.Errorf("serving (not ready, answering) %+v", s)
	}
	if s := byName["monitor"]; s.Ready || !strings.Contains(s.Error, "monitor at "+urls["monitor"]) || !strings.Contains(s.Error, "connection refused") {
		t.Errorf("monitor (unreachable) %+v", s)
	}
	wantStreams := []streamRate{{Stream: "clicks", Events: 30, EventsPerSecond: 0.5}, {Stream: "idle"}}
	if got, _ := json.Marshal(r.Streams.Streams); string(got) != string(must(json.Marshal(wantStreams))) || len(r.Streams.Errors) > 0 {
		t.Errorf("streams %s %v, want %s", got, r.Streams.Errors, must(json.Marshal(wantStreams)))
	}
	wantDead := []deadLetterReason{{"features", "bad_label", 1}, {"features", "late_event", 2}, {"ingest", "schema_violation", 6}, {"ingest", "unknown_type", 1}}
	if d := r.DeadLetters; d.OnTopic == nil || *d.OnTopic != 3 || fmt.Sprint(d.Reasons) != fmt.Sprint(wantDead) ||
		len(d.Errors) != 1 || !strings.HasPrefix(d.Errors[0], "monitor at ") {
		t.Errorf("dead letters %+v (on topic %v), want 3 on the topic and %v, and the monitor unreachable", d, d.OnTopic, wantDead)
	}
	if f := r.Freshness; len(f.Views) != 1 || f.Views[0].View != "txn" || f.Views[0].Values != 132 || f.Views[0].P99AgeSeconds < 0.5 || f.Views[0].P99AgeSeconds > 30 ||
		f.MaterializeP99Seconds == nil || math.Abs(*f.MaterializeP99Seconds-0.01-0.09*99/100) > 1e-9 {
		t.Errorf("freshness %+v (materialize %v)", f, f.MaterializeP99Seconds)
	}
	if m := r.Models; len(m.Models) != 1 || m.Models[0].LatestVersion != 3 || len(m.Models[0].Aliases) != 2 {
		t.Errorf("models %+v", m)
	}
	if p := r.Predictions; len(p.Routes) != 2 || p.Routes[0].Route != "canary" || p.Routes[0].Predictions != 6 ||
		p.Routes[1].Route != "production" || p.Routes[1].Predictions != 60 || p.Routes[1].PerSecond != 1 ||
		p.Routes[1].P99LatencySeconds < 0.055 || p.Routes[1].P99LatencySeconds > 0.0605 {
		t.Errorf("predictions %+v", p)
	}
	if d := r.Drift; len(d.Windows) != 1 || d.Windows[0].Judged != 2 || strings.Join(d.Windows[0].Drifted, ";") != "txn:amount_sum_1h psi=0.42" || d.Error != "" {
		t.Errorf("drift %+v", d)
	}
	if p := r.Performance; p.Available || p.Error != "" {
		t.Errorf("performance before the table exists %+v", p)
	}
	if j := r.Jobs; len(j.Jobs) != 1 || j.Jobs[0].JobID != "j3" || j.Jobs[0].Step != "train" || j.Jobs[0].Trigger != "drift" {
		t.Errorf("jobs %+v", j)
	}
	if f := r.failures(); len(f) != 1 || !strings.HasPrefix(f[0], "monitor at ") {
		t.Errorf("failures %q, want the monitor's only", f)
	}

	// -model keeps one model's rows.
	o.model = "other"
	only := gatherStatus(ctx, o, http.DefaultClient)
	o.model = ""
	if len(only.Models.Models)+len(only.Predictions.Routes)+len(only.Drift.Windows)+len(only.Jobs.Jobs) != 0 || len(only.Streams.Streams) != 2 {
		t.Errorf("-model other kept %+v", only)
	}

	var out bytes.Buffer
	if err := renderStatus(&out, "table", r); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	t.Log("\n" + table)
	for _, want := range []string{
		"monitor   " + urls["monitor"] + "  UNREACHABLE: monitor at " + urls["monitor"],
		"serving   " + urls["serving"] + "  not ready: models",
		"clicks    0.50",
		"ingest schema_violation  6",
		"on " + dlq + " 3",
		"fraud     v3      canary=v3 (0.1), production=v2",
		"1: txn:amount_sum_1h psi=0.42",
		"no performance figures yet",
		"fraud j3",
	} {
		if !containsSpaced(table, want) {
			t.Errorf("table has no %q:\n%s", want, table)
		}
	}

	// The monitor's table, in the shape of issue 11 (wide, per window):
	// the newest window of each model, version and route is shown with
	// every figure it has.
	exec(`CREATE TABLE ${db}.model_performance (model String, version UInt32, route String, window_start DateTime('UTC'), window_size_seconds UInt32,
		labelled UInt64, unlabelled UInt64, auc Nullable(Float64), accuracy Float64, computed_ms UInt64)
		ENGINE = ReplacingMergeTree(computed_ms) ORDER BY (model, version, route, window_start, window_size_seconds)`)
	exec(`INSERT INTO ${db}.model_performance (model, version, route, window_start, window_size_seconds, labelled, unlabelled, auc, accuracy, computed_ms)
		SELECT 'fraud', 2, 'production', toDateTime('2026-12-01 10:00:00', 'UTC') + number * 300, 300, 10 + number, 5, if(number = 2, NULL, 0.8 + number / 100), 0.9, 1 FROM system.numbers LIMIT 3`)
	r = gatherStatus(ctx, o, http.DefaultClient)
	p := r.Performance
	if !p.Available || p.Error != "" || len(p.Windows) != 1 {
		t.Fatalf("performance %+v", p)
	}
	w := p.Windows[0]
	if w.Model != "fraud" || w.Version != "2" || w.Route != "production" || w.Window != "2026-12-01 10:10:00" ||
		w.Metrics["labelled"] != 12 || w.Metrics["unlabelled"] != 5 || w.Metrics["accuracy"] != 0.9 || len(w.Metrics) != 3 {
		t.Errorf("performance window %+v (auc is NULL there: no figure)", w)
	}
}

// containsSpaced reports whether s contains want with each run of spaces
// in want matching one or more spaces (tabwriter's padding).
func containsSpaced(s, want string) bool {
	norm := func(x string) string { return strings.Join(strings.Fields(x), " ") }
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(norm(line), norm(want)) {
			return true
		}
	}
	return false
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestStatusClickHouseUnreachable: with ClickHouse down, every section it
// feeds names it and its address; the services' sections are still there.
func TestStatusClickHouseUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	urls := statusFakes(t)
	o := statusOptions{urls: map[string]*string{}, window: time.Minute, timeout: 10 * time.Second,
		kafka: kafkax.Config{Brokers: dead, DialTimeout: time.Second}, dlqTopic: "tributary.dlq",
		clickhouse: chx.Config{Addr: dead, Database: "tributary", Username: "default", DialTimeout: time.Second, ReadTimeout: time.Second}}
	for s, u := range urls {
		o.urls[s] = &u
	}
	r := gatherStatus(context.Background(), o, http.DefaultClient)
	want := "clickhouse at " + dead
	for name, errs := range map[string][]string{
		"streams": r.Streams.Errors, "freshness": r.Freshness.Errors,
		"predictions": {r.Predictions.Error}, "drift": {r.Drift.Error}, "performance": {r.Performance.Error},
	} {
		if !strings.Contains(strings.Join(errs, ";"), want) {
			t.Errorf("%s: errors %q, want %q", name, errs, want)
		}
	}
	if len(r.Streams.Streams) != 2 || len(r.Models.Models) != 1 || len(r.Jobs.Jobs) != 1 || len(r.DeadLetters.Reasons) != 4 {
		t.Errorf("the services' figures are missing: %+v", r)
	}
	var names []string
	for _, f := range r.failures() {
		name, _, _ := strings.Cut(f, " at ")
		names = append(names, name)
	}
	if got := strings.Join(names, ","); !strings.Contains(got, "monitor") || !strings.Contains(got, "clickhouse") || !strings.Contains(got, "kafka") {
		t.Errorf("failures name %s", got)
	}
}

// dlqTopic creates a topic of its own with n records in it, deleted when
// the test ends.
func dlqTopic(t *testing.T, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := fmt.Sprintf("test.cli.dlq.%d", time.Now().UnixNano())
	cl, err := kgo.NewClient(kgo.SeedBrokers(testkit.KafkaBrokers(t)...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := adm.DeleteTopics(context.Background(), topic); err != nil {
			t.Errorf("delete topic %s: %v", topic, err)
		}
	})
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return topic
}
