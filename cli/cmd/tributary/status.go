package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/deadletter"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/service"
)

const statusUsage = `Usage: tributary status [flags]

One screen of the whole platform:

  services      each service's /readyz
  streams       events/s per stream over -window (ClickHouse events, by ingest
                time), for every stream ingest serves (ingest GET /v1/streams)
  dead letters  the records on tributary.dlq (Kafka), and what ingest,
                features and monitor dead-lettered by reason since each
                started (their /metrics)
  freshness     p99 age of the online feature values serving used, per view,
                over -window (ClickHouse prediction_log), and the p99 time from
                ingest to the online store since features started (features
                /metrics)
  models        models, their latest version and aliases (registry)
  predictions   predictions/s and p99 latency per model and route over
                -window (ClickHouse prediction_log)
  drift         the latest drift window of each model version: methods judged
                and drifted (ClickHouse drift_metrics)
  performance   the latest window of each model, version and route
                (ClickHouse model_performance, once the monitor writes it)
  jobs          training jobs queued or running (trainer)

A source that does not answer is named with its address in its section, the
rest is still shown, and the command exits with code 1. -o json prints the
same report for scripts. Every flag can also be set with its TRIBUTARY_*
environment variable (-serving.url: TRIBUTARY_SERVING_URL).
`

type statusOptions struct {
	urls       map[string]*string
	apiKey     string
	kafka      kafkax.Config
	dlqTopic   string
	clickhouse chx.Config
	window     time.Duration
	model      string
	output     string
	timeout    time.Duration
}

func parseStatusFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (statusOptions, error) {
	o := statusOptions{urls: map[string]*string{}}
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, statusUsage)
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	for _, s := range statusServices {
		o.urls[s] = new(string)
		registerServiceURL(fs, o.urls[s], s)
	}
	fs.StringVar(&o.apiKey, "api-key", "", "API key for ingest's GET /v1/streams (not needed when ingest runs without keys, as in make run).")
	o.kafka.RegisterFlags(fs)
	fs.StringVar(&o.dlqTopic, "dlq-topic", deadletter.Topic, "The dead-letter topic whose records are counted.")
	o.clickhouse.RegisterFlags(fs)
	fs.DurationVar(&o.window, "window", time.Minute, "Rates and percentiles are over this last stretch of time (1s to 24h).")
	fs.StringVar(&o.model, "model", "", "Only this model in the models, predictions, drift, performance and jobs sections.")
	fs.StringVar(&o.output, "o", "table", "Output: table or json.")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "Give up on a source after this long.")
	if err := service.ParseFlags(fs, args, lookupEnv); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, s := range statusServices {
		u, err := checkServiceURL(s, *o.urls[s])
		if err != nil {
			return o, err
		}
		*o.urls[s] = u
	}
	if o.kafka.ClientID == "" {
		o.kafka.ClientID = "tributary-status"
	}
	for _, v := range []interface{ Validate() error }{o.kafka, o.clickhouse} {
		if err := v.Validate(); err != nil {
			return o, err
		}
	}
	switch {
	case o.output != "table" && o.output != "json":
		return o, fmt.Errorf("-o %q: want table or json", o.output)
	case o.window < time.Second || o.window > 24*time.Hour:
		return o, fmt.Errorf("-window %v: want 1s to 24h", o.window)
	case o.timeout <= 0:
		return o, errors.New("-timeout: must be positive")
	}
	return o, nil
}

// statusServices are the services status asks, in the order shown.
var statusServices = []string{"ingest", "features", "trainer", "registry", "serving", "monitor"}

// The report. Each section has the error of its source, if it did not
// answer; what the other sources said is still there.
type statusReport struct {
	At            time.Time         `json:"at"`
	WindowSeconds float64           `json:"window_seconds"`
	Services      []serviceStatus   `json:"services"`
	Streams       streamsSection    `json:"streams"`
	DeadLetters   deadLetterSection `json:"dead_letters"`
	Freshness     freshnessSection  `json:"freshness"`
	Models        modelsSection     `json:"models"`
	Predictions   predictionSection `json:"predictions"`
	Drift         driftSection      `json:"drift"`
	Performance   perfSection       `json:"performance"`
	Jobs          jobsSection       `json:"jobs"`
}

type serviceStatus struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	Ready bool   `json:"ready"`
	// Failing names the readiness checks that fail.
	Failing []string `json:"failing,omitempty"`
	Error   string   `json:"error,omitempty"`
}

type streamsSection struct {
	Streams []streamRate `json:"streams"`
	Errors  []string     `json:"errors,omitempty"`
}

type streamRate struct {
	Stream          string  `json:"stream"`
	Events          uint64  `json:"events"`
	EventsPerSecond float64 `json:"events_per_second"`
}

type deadLetterSection struct {
	// OnTopic is the number of records on the dead-letter topic (what its
	// retention keeps); null when Kafka did not answer.
	OnTopic *int64 `json:"on_topic"`
	Topic   string `json:"topic"`
	// Reasons are the records each service dead-lettered (ingest: the
	// events it rejected), by reason, since it started (its /metrics).
	Reasons []deadLetterReason `json:"reasons"`
	Errors  []string           `json:"errors,omitempty"`
}

type deadLetterReason struct {
	Service string  `json:"service"`
	Reason  string  `json:"reason"`
	Count   float64 `json:"count"`
}

type freshnessSection struct {
	Views []viewFreshness `json:"views"`
	// MaterializeP99Seconds is the p99 of the time from ingest's
	// acknowledgement to the online store, since features started; null
	// before its first batch.
	MaterializeP99Seconds *float64 `json:"materialize_p99_seconds"`
	Errors                []string `json:"errors,omitempty"`
}

type viewFreshness struct {
	View          string  `json:"view"`
	Values        uint64  `json:"values"`
	P99AgeSeconds float64 `json:"p99_age_seconds"`
}

type modelsSection struct {
	Models []modelStatus `json:"models"`
	Error  string        `json:"error,omitempty"`
}

type modelStatus struct {
	Model         string        `json:"model"`
	LatestVersion int           `json:"latest_version"`
	Aliases       []model.Alias `json:"aliases"`
}

type predictionSection struct {
	Routes []routeRate `json:"routes"`
	Error  string      `json:"error,omitempty"`
}

type routeRate struct {
	Model             string  `json:"model"`
	Route             string  `json:"route"`
	Predictions       uint64  `json:"predictions"`
	PerSecond         float64 `json:"per_second"`
	P99LatencySeconds float64 `json:"p99_latency_seconds"`
}

type driftSection struct {
	Windows []driftWindow `json:"windows"`
	Error   string        `json:"error,omitempty"`
}

type driftWindow struct {
	Model         string    `json:"model"`
	Version       uint32    `json:"version"`
	WindowStart   time.Time `json:"window_start"`
	WindowSeconds uint32    `json:"window_seconds"`
	Judged        uint64    `json:"judged"`
	Drifted       []string  `json:"drifted"` // "feature method=value"
}

type perfSection struct {
	// Available is false when the table model_performance does not exist.
	Available bool         `json:"available"`
	Windows   []perfWindow `json:"windows"`
	Error     string       `json:"error,omitempty"`
}

type perfWindow struct {
	Model   string             `json:"model"`
	Version string             `json:"version"`
	Route   string             `json:"route,omitempty"`
	Window  string             `json:"window"`
	Metrics map[string]float64 `json:"metrics"`
}

type jobsSection struct {
	Jobs  []jobStatus `json:"jobs"`
	Error string      `json:"error,omitempty"`
}

type jobStatus struct {
	JobID     string    `json:"job_id"`
	Model     string    `json:"model"`
	Status    string    `json:"status"`
	Step      string    `json:"step,omitempty"`
	Trigger   string    `json:"trigger"`
	CreatedAt time.Time `json:"created_at"`
}

// errUnreachable is returned after the report is printed when a source did
// not answer.
var errUnreachable = errors.New("not every source answered")

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseStatusFlags(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	r := gatherStatus(ctx, o, http.DefaultClient)
	if err := renderStatus(stdout, o.output, r); err != nil {
		return err
	}
	if failed := r.failures(); len(failed) > 0 {
		var names []string
		for _, f := range failed {
			if name, _, ok := strings.Cut(f, " at "); ok && !contains(names, name) {
				names = append(names, name)
			}
		}
		return fmt.Errorf("%w: %s (see above)", errUnreachable, strings.Join(names, ", "))
	}
	return nil
}

// failures lists the errors of every section, each once.
func (r statusReport) failures() []string {
	var all []string
	for _, s := range r.Services {
		all = append(all, s.Error)
	}
	all = append(all, r.Streams.Errors...)
	all = append(all, r.DeadLetters.Errors...)
	all = append(all, r.Freshness.Errors...)
	all = append(all, r.Models.Error, r.Predictions.Error, r.Drift.Error, r.Performance.Error, r.Jobs.Error)
	seen := map[string]bool{}
	var out []string
	for _, e := range all {
		// A source that did not answer fails several sections with the
		// same error; name it once.
		if e != "" && !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// gatherStatus asks every source at once and waits for all of them.
func gatherStatus(ctx context.Context, o statusOptions, hc *http.Client) statusReport {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	r := statusReport{At: time.Now().UTC(), WindowSeconds: o.window.Seconds()}
	svc := func(name string) serviceHTTP {
		c := serviceHTTP{name: name, base: *o.urls[name], hc: hc}
		if name == "ingest" {
			c.apiKey = o.apiKey
		}
		return c
	}
	r.Services = make([]serviceStatus, len(statusServices))
	var wg sync.WaitGroup
	for i, name := range statusServices {
		wg.Go(func() { r.Services[i] = readiness(ctx, svc(name)) })
	}
	var chErr string
	conn, err := chx.Open(o.clickhouse)
	if err != nil {
		chErr = fmt.Sprintf("clickhouse at %s: %v", o.clickhouse.Addr, err)
	}
	ch := chStatus{conn: conn, db: o.clickhouse.Database, addr: o.clickhouse.Addr, window: o.window}
	var streamNames []string
	var streamsErr, kafkaErr string
	scraped := map[string]metrics{}
	scrapeErr := map[string]string{}
	var mu sync.Mutex
	for _, name := range []string{"ingest", "features", "monitor"} {
		wg.Go(func() {
			m, err := scrape(ctx, svc(name))
			mu.Lock()
			defer mu.Unlock()
			scraped[name], scrapeErr[name] = m, err
		})
	}
	wg.Go(func() { r.DeadLetters.OnTopic, kafkaErr = dlqRecords(ctx, o.kafka, o.dlqTopic) })
	var rates []streamRate
	var ages []viewFreshness
	var agesErr string
	wg.Go(func() { streamNames, streamsErr = ingestStreams(ctx, svc("ingest")) })
	wg.Go(func() { r.Models = registryModels(ctx, svc("registry")) })
	wg.Go(func() { r.Jobs = activeJobs(ctx, svc("trainer")) })
	if conn != nil {
		wg.Go(func() { rates, chErr = ch.streamRates(ctx) })
		wg.Go(func() { ages, agesErr = ch.featureAges(ctx) })
		wg.Go(func() { r.Predictions = ch.predictions(ctx) })
		wg.Go(func() { r.Drift = ch.drift(ctx) })
		wg.Go(func() { r.Performance = ch.performance(ctx) })
	}
	wg.Wait()
	if conn != nil {
		_ = conn.Close() // read-only queries: nothing to lose
	} else {
		agesErr = chErr
		r.Predictions.Error, r.Drift.Error, r.Performance.Error = chErr, chErr, chErr
	}
	r.DeadLetters.Topic = o.dlqTopic
	r.DeadLetters.Reasons = deadLetterReasons(scraped)
	r.DeadLetters.Errors = nonEmpty(kafkaErr, scrapeErr["ingest"], scrapeErr["features"], scrapeErr["monitor"])
	if m := scraped["features"]; m != nil {
		if v, _, ok := m.quantile("tributary_features_materialize_lag_seconds", 0.99); ok {
			r.Freshness.MaterializeP99Seconds = &v
		}
	}
	r.Streams = mergeStreams(streamNames, rates, o.window)
	r.Streams.Errors = nonEmpty(streamsErr, chErr)
	r.Freshness.Views = ages
	r.Freshness.Errors = nonEmpty(agesErr, scrapeErr["features"])
	if o.model != "" {
		r.onlyModel(o.model)
	}
	return r
}

// onlyModel keeps the rows of one model in the sections that are per
// model.
func (r *statusReport) onlyModel(name string) {
	r.Models.Models = keep(r.Models.Models, func(m modelStatus) bool { return m.Model == name })
	r.Predictions.Routes = keep(r.Predictions.Routes, func(p routeRate) bool { return p.Model == name })
	r.Drift.Windows = keep(r.Drift.Windows, func(d driftWindow) bool { return d.Model == name })
	r.Performance.Windows = keep(r.Performance.Windows, func(p perfWindow) bool { return p.Model == name })
	r.Jobs.Jobs = keep(r.Jobs.Jobs, func(j jobStatus) bool { return j.Model == name })
}

func keep[T any](xs []T, ok func(T) bool) []T {
	if xs == nil {
		return nil
	}
	out := []T{}
	for _, x := range xs {
		if ok(x) {
			out = append(out, x)
		}
	}
	return out
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// readiness asks a service's /readyz; its JSON body names the checks that
// fail.
func readiness(ctx context.Context, c serviceHTTP) serviceStatus {
	st := serviceStatus{Name: c.name, URL: c.base}
	body, err := c.text(ctx, "/readyz")
	if err == nil {
		st.Ready = true
		return st
	}
	var checks struct {
		Checks map[string]struct {
			Error string `json:"error"`
		} `json:"checks"`
	}
	if body != "" && json.Unmarshal([]byte(body), &checks) == nil && len(checks.Checks) > 0 {
		for name, c := range checks.Checks {
			if c.Error != "" {
				st.Failing = append(st.Failing, name)
			}
		}
		sort.Strings(st.Failing)
		return st // it answered: not ready is not unreachable
	}
	st.Error = err.Error()
	return st
}

func ingestStreams(ctx context.Context, c serviceHTTP) ([]string, string) {
	var l struct {
		Streams []struct {
			Name string `json:"name"`
		} `json:"streams"`
	}
	if _, err := c.call(ctx, http.MethodGet, "/v1/streams", nil, &l); err != nil {
		return nil, err.Error()
	}
	names := make([]string, len(l.Streams))
	for i, s := range l.Streams {
		names[i] = s.Name
	}
	return names, ""
}

// scrape reads and parses a service's /metrics.
func scrape(ctx context.Context, c serviceHTTP) (metrics, string) {
	text, err := c.text(ctx, "/metrics")
	if err != nil {
		return nil, err.Error()
	}
	m, err := parseMetrics(text)
	if err != nil {
		return nil, c.wrap(err).Error()
	}
	return m, ""
}

// deadLetterSources say, per service, which counter series are records it
// dead-lettered (the services' READMEs, Metrics): the metric, the label
// that holds the reason, and the label values that are dead letters (nil:
// any value of the match).
var deadLetterSources = []struct {
	service, metric, by string
	match               map[string]string
	outcomes            map[string]string // outcome: reason shown
}{
	{service: "ingest", metric: "tributary_ingest_events_total", by: "reason", match: map[string]string{"outcome": "rejected"}},
	{service: "features", metric: "tributary_features_materialized_records_total", by: "outcome",
		outcomes: map[string]string{"late": "late_event", "undecodable_event": "undecodable_event", "bad_event_data": "bad_event_data", "bad_label": "bad_label"}},
	{service: "monitor", metric: "tributary_monitor_predictions_total", by: "outcome",
		outcomes: map[string]string{"bad_prediction": "bad_prediction", "undecodable_event": "undecodable_event"}},
}

func deadLetterReasons(scraped map[string]metrics) []deadLetterReason {
	out := []deadLetterReason{}
	for _, src := range deadLetterSources {
		m := scraped[src.service]
		if m == nil {
			continue
		}
		for value, n := range m.sum(src.metric, src.by, src.match) {
			reason := value
			if src.outcomes != nil {
				var ok bool
				if reason, ok = src.outcomes[value]; !ok {
					continue
				}
			}
			if n > 0 {
				out = append(out, deadLetterReason{Service: src.service, Reason: reason, Count: n})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

// dlqRecords counts the records on the dead-letter topic: the sum over its
// partitions of the end offset less the start offset.
func dlqRecords(ctx context.Context, cfg kafkax.Config, topic string) (*int64, string) {
	fail := func(err error) (*int64, string) {
		return nil, fmt.Sprintf("kafka at %s: %s: %v", cfg.Brokers, topic, err)
	}
	cl, err := kafkax.NewClient(cfg, nil, "")
	if err != nil {
		return fail(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fail(err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fail(err)
	}
	var n int64
	ends.Each(func(e kadm.ListedOffset) {
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok {
			n += e.Offset - s.Offset
		}
	})
	return &n, ""
}

func registryModels(ctx context.Context, c serviceHTTP) modelsSection {
	var ms []model.ModelInfo
	if _, err := c.call(ctx, http.MethodGet, "/v1/models", nil, &ms); err != nil {
		return modelsSection{Error: err.Error()}
	}
	out := modelsSection{Models: []modelStatus{}}
	for _, m := range ms {
		out.Models = append(out.Models, modelStatus{Model: m.Name, LatestVersion: m.LatestVersion, Aliases: m.Aliases})
	}
	return out
}

func activeJobs(ctx context.Context, c serviceHTTP) jobsSection {
	var l struct {
		Jobs []struct {
			JobID     string    `json:"job_id"`
			Model     string    `json:"model"`
			Status    string    `json:"status"`
			Trigger   string    `json:"trigger"`
			CreatedAt time.Time `json:"created_at"`
			Steps     []struct {
				Name   string `json:"name"`
				Status string `json:"status"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if _, err := c.call(ctx, http.MethodGet, "/v1/jobs?limit=200", nil, &l); err != nil {
		return jobsSection{Error: err.Error()}
	}
	out := jobsSection{Jobs: []jobStatus{}}
	for _, j := range l.Jobs {
		if j.Status != "queued" && j.Status != "running" {
			continue
		}
		js := jobStatus{JobID: j.JobID, Model: j.Model, Status: j.Status, Trigger: j.Trigger, CreatedAt: j.CreatedAt}
		for _, s := range j.Steps {
			if s.Status != "done" {
				js.Step = s.Name
				break
			}
		}
		out.Jobs = append(out.Jobs, js)
	}
	return out
}

// mergeStreams lists every stream ingest serves and every stream with
// events in the window, with its rate.
func mergeStreams(names []string, rates []streamRate, window time.Duration) streamsSection {
	by := map[string]streamRate{}
	for _, n := range names {
		by[n] = streamRate{Stream: n}
	}
	for _, r := range rates {
		r.EventsPerSecond = float64(r.Events) / window.Seconds()
		by[r.Stream] = r
	}
	out := streamsSection{Streams: []streamRate{}}
	for _, r := range by {
		out.Streams = append(out.Streams, r)
	}
	sort.Slice(out.Streams, func(i, j int) bool { return out.Streams[i].Stream < out.Streams[j].Stream })
	return out
}

// chStatus queries the ClickHouse tables status reads.
type chStatus struct {
	conn   driver.Conn
	db     string // checked by chx.Config.Validate: a plain identifier
	addr   string
	window time.Duration
}

func (c chStatus) wrap(what string, err error) string {
	return fmt.Sprintf("clickhouse at %s: %s: %v", c.addr, what, err)
}

func (c chStatus) seconds() uint32 { return uint32(c.window / time.Second) }

func (c chStatus) streamRates(ctx context.Context) ([]streamRate, string) {
	rows, err := c.conn.Query(ctx, `SELECT stream, uniqExact(source, event_id) FROM `+c.db+`.events
		WHERE ingest_time >= now() - ? GROUP BY stream`, c.seconds())
	if err != nil {
		return nil, c.wrap("events", err)
	}
	defer rows.Close()
	var out []streamRate
	for rows.Next() {
		var r streamRate
		if err := rows.Scan(&r.Stream, &r.Events); err != nil {
			return nil, c.wrap("events", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, c.wrap("events", err)
	}
	return out, ""
}

func (c chStatus) featureAges(ctx context.Context) ([]viewFreshness, string) {
	rows, err := c.conn.Query(ctx, `SELECT splitByChar(':', name)[1] AS view, count(), quantileTDigest(0.99)(age)
		FROM `+c.db+`.prediction_log ARRAY JOIN feature_age_names AS name, feature_age_seconds AS age
		WHERE event_time >= now() - ? GROUP BY view ORDER BY view`, c.seconds())
	if err != nil {
		return nil, c.wrap("prediction_log", err)
	}
	defer rows.Close()
	out := []viewFreshness{}
	for rows.Next() {
		var v viewFreshness
		var p99 float32
		if err := rows.Scan(&v.View, &v.Values, &p99); err != nil {
			return nil, c.wrap("prediction_log", err)
		}
		v.P99AgeSeconds = float64(p99)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, c.wrap("prediction_log", err)
	}
	return out, ""
}

func (c chStatus) predictions(ctx context.Context) predictionSection {
	rows, err := c.conn.Query(ctx, `SELECT model, route, uniqExact(prediction_id), quantileTDigest(0.99)(latency_seconds)
		FROM `+c.db+`.prediction_log WHERE event_time >= now() - ? GROUP BY model, route ORDER BY model, route`, c.seconds())
	if err != nil {
		return predictionSection{Error: c.wrap("prediction_log", err)}
	}
	defer rows.Close()
	out := predictionSection{Routes: []routeRate{}}
	for rows.Next() {
		var r routeRate
		var p99 float32
		if err := rows.Scan(&r.Model, &r.Route, &r.Predictions, &p99); err != nil {
			return predictionSection{Error: c.wrap("prediction_log", err)}
		}
		r.PerSecond = float64(r.Predictions) / c.window.Seconds()
		r.P99LatencySeconds = float64(p99)
		out.Routes = append(out.Routes, r)
	}
	if err := rows.Err(); err != nil {
		return predictionSection{Error: c.wrap("prediction_log", err)}
	}
	return out
}

// drift reads the latest window of each model version and window size.
func (c chStatus) drift(ctx context.Context) driftSection {
	rows, err := c.conn.Query(ctx, `SELECT model, version, window_start, window_size_seconds,
			countIf(skipped = ''),
			groupArrayIf(concat(if(feature = '', 'prediction', feature), ' ', method, '=', toString(round(value, 4))), drifted = 1)
		FROM `+c.db+`.drift_metrics FINAL
		WHERE (model, version, window_size_seconds, window_start) IN
			(SELECT model, version, window_size_seconds, max(window_start) FROM `+c.db+`.drift_metrics GROUP BY model, version, window_size_seconds)
		GROUP BY model, version, window_start, window_size_seconds
		ORDER BY model, version, window_size_seconds`)
	if err != nil {
		return driftSection{Error: c.wrap("drift_metrics", err)}
	}
	defer rows.Close()
	out := driftSection{Windows: []driftWindow{}}
	for rows.Next() {
		var w driftWindow
		if err := rows.Scan(&w.Model, &w.Version, &w.WindowStart, &w.WindowSeconds, &w.Judged, &w.Drifted); err != nil {
			return driftSection{Error: c.wrap("drift_metrics", err)}
		}
		sort.Strings(w.Drifted)
		out.Windows = append(out.Windows, w)
	}
	if err := rows.Err(); err != nil {
		return driftSection{Error: c.wrap("drift_metrics", err)}
	}
	return out
}

// perfKeys are the columns of model_performance that name a window's
// subject; perfTimes the columns that may order the windows, preferred
// first; perfSkip numeric columns that are not figures.
var (
	perfKeys  = []string{"model", "version", "route"}
	perfTimes = []string{"window_end", "window_start"}
	perfSkip  = map[string]bool{"window_size_seconds": true, "computed_ms": true, "shadow": true}
)

// performance reads the newest window of each model, version and route
// from model_performance, whatever its figures are: every numeric column
// that is not a key is shown. It is absent until the monitor creates it.
func (c chStatus) performance(ctx context.Context) perfSection {
	var engine string
	err := c.conn.QueryRow(ctx, `SELECT engine FROM system.tables WHERE database = ? AND name = 'model_performance'`, c.db).Scan(&engine)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return perfSection{Windows: []perfWindow{}}
		}
		return perfSection{Error: c.wrap("system.tables", err)}
	}
	rows, err := c.conn.Query(ctx, `SELECT name, type FROM system.columns WHERE database = ? AND table = 'model_performance'`, c.db)
	if err != nil {
		return perfSection{Error: c.wrap("system.columns", err)}
	}
	cols := map[string]string{}
	var order []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return perfSection{Error: c.wrap("system.columns", err)}
		}
		cols[name] = typ
		order = append(order, name)
	}
	rows.Close()
	var keys, figures []string
	timeCol := ""
	for _, k := range perfKeys {
		if _, ok := cols[k]; ok {
			keys = append(keys, k)
		}
	}
	for _, t := range perfTimes {
		if _, ok := cols[t]; ok && timeCol == "" {
			timeCol = t
		}
	}
	for _, name := range order {
		typ := strings.TrimSuffix(strings.TrimPrefix(cols[name], "Nullable("), ")")
		numeric := strings.HasPrefix(typ, "Float") || strings.HasPrefix(typ, "UInt") || strings.HasPrefix(typ, "Int")
		// The names come from the server; only plain identifiers are
		// put into the query.
		if numeric && !perfSkip[name] && !contains(keys, name) && chIdentifier.MatchString(name) {
			figures = append(figures, name)
		}
	}
	if len(keys) == 0 || !contains(keys, "model") || timeCol == "" {
		return perfSection{Available: true, Error: fmt.Sprintf("clickhouse at %s: model_performance has no model and window columns this cli knows (columns: %s)", c.addr, strings.Join(order, ", "))}
	}
	final := ""
	if strings.Contains(engine, "Replacing") || strings.Contains(engine, "Collapsing") {
		final = " FINAL"
	}
	sel := make([]string, 0, len(keys)+1+len(figures))
	for _, k := range keys {
		sel = append(sel, "toString("+k+")")
	}
	sel = append(sel, "toString("+timeCol+")")
	for _, f := range figures {
		sel = append(sel, "ifNull(toFloat64("+f+"), nan)")
	}
	q := `SELECT ` + strings.Join(sel, ", ") + ` FROM ` + c.db + `.model_performance` + final +
		` ORDER BY ` + timeCol + ` DESC LIMIT 1 BY ` + strings.Join(keys, ", ")
	prow, err := c.conn.Query(ctx, q)
	if err != nil {
		return perfSection{Available: true, Error: c.wrap("model_performance", err)}
	}
	defer prow.Close()
	out := perfSection{Available: true, Windows: []perfWindow{}}
	for prow.Next() {
		keyVals := make([]string, len(keys))
		var window string
		vals := make([]float64, len(figures))
		dest := make([]any, 0, len(sel))
		for i := range keyVals {
			dest = append(dest, &keyVals[i])
		}
		dest = append(dest, &window)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := prow.Scan(dest...); err != nil {
			return perfSection{Available: true, Error: c.wrap("model_performance", err)}
		}
		w := perfWindow{Window: window, Metrics: map[string]float64{}}
		for i, k := range keys {
			switch k {
			case "model":
				w.Model = keyVals[i]
			case "version":
				w.Version = keyVals[i]
			case "route":
				w.Route = keyVals[i]
			}
		}
		for i, f := range figures {
			if !math.IsNaN(vals[i]) { // NaN: no figure
				w.Metrics[f] = vals[i]
			}
		}
		out.Windows = append(out.Windows, w)
	}
	if err := prow.Err(); err != nil {
		return perfSection{Available: true, Error: c.wrap("model_performance", err)}
	}
	sort.Slice(out.Windows, func(i, j int) bool {
		a, b := out.Windows[i], out.Windows[j]
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Route < b.Route
	})
	return out
}

var chIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// renderStatus prints the report.
func renderStatus(w io.Writer, output string, r statusReport) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	window := (time.Duration(r.WindowSeconds) * time.Second).String()
	section := func(title string) { fmt.Fprintf(tw, "\n%s\n", title) }
	errLine := func(errs ...string) {
		for _, e := range errs {
			if e != "" {
				fmt.Fprintf(tw, "  ! %s\n", e)
			}
		}
	}
	fmt.Fprintf(tw, "Tributary at %s (rates over the last %s)\n", r.At.Format(time.RFC3339), window)

	section("SERVICES")
	for _, s := range r.Services {
		state := "ready"
		switch {
		case s.Error != "":
			state = "UNREACHABLE: " + s.Error
		case !s.Ready:
			state = "not ready: " + strings.Join(s.Failing, ", ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Name, s.URL, state)
	}

	section("STREAMS\tEVENTS/S\tEVENTS")
	for _, s := range r.Streams.Streams {
		fmt.Fprintf(tw, "  %s\t%.2f\t%d\n", s.Stream, s.EventsPerSecond, s.Events)
	}
	if len(r.Streams.Streams) == 0 && len(r.Streams.Errors) == 0 {
		fmt.Fprintln(tw, "  (no streams)")
	}
	errLine(r.Streams.Errors...)

	section("DEAD LETTERS\tRECORDS")
	if r.DeadLetters.OnTopic != nil {
		fmt.Fprintf(tw, "  on %s\t%d\n", r.DeadLetters.Topic, *r.DeadLetters.OnTopic)
	}
	for _, d := range r.DeadLetters.Reasons {
		fmt.Fprintf(tw, "  %s %s\t%.0f\t(since %s started)\n", d.Service, d.Reason, d.Count, d.Service)
	}
	errLine(r.DeadLetters.Errors...)

	section("FEATURE FRESHNESS\tP99 AGE\tVALUES SERVED")
	for _, v := range r.Freshness.Views {
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", v.View, seconds(v.P99AgeSeconds), v.Values)
	}
	if len(r.Freshness.Views) == 0 && len(r.Freshness.Errors) == 0 {
		fmt.Fprintln(tw, "  (no online features served in the window)")
	}
	if r.Freshness.MaterializeP99Seconds != nil {
		fmt.Fprintf(tw, "  (ingest to the online store: p99 %s since features started)\n", seconds(*r.Freshness.MaterializeP99Seconds))
	}
	errLine(r.Freshness.Errors...)

	section("MODELS\tLATEST\tALIASES")
	for _, m := range r.Models.Models {
		fmt.Fprintf(tw, "  %s\tv%d\t%s\n", m.Model, m.LatestVersion, aliasesWithWeight(m.Aliases))
	}
	if len(r.Models.Models) == 0 && r.Models.Error == "" {
		fmt.Fprintln(tw, "  (no models registered)")
	}
	errLine(r.Models.Error)

	section("PREDICTIONS\tROUTE\tPER S\tP99 LATENCY")
	for _, p := range r.Predictions.Routes {
		fmt.Fprintf(tw, "  %s\t%s\t%.2f\t%s\n", p.Model, dash(p.Route), p.PerSecond, seconds(p.P99LatencySeconds))
	}
	if len(r.Predictions.Routes) == 0 && r.Predictions.Error == "" {
		fmt.Fprintln(tw, "  (no predictions in the window)")
	}
	errLine(r.Predictions.Error)

	section("DRIFT (latest window)\tWINDOW\tJUDGED\tDRIFTED")
	for _, d := range r.Drift.Windows {
		drifted := "none"
		if n := len(d.Drifted); n > 0 {
			// The first few; drift show has them all.
			drifted = fmt.Sprintf("%d: %s", n, strings.Join(d.Drifted[:min(n, 3)], ", "))
			if n > 3 {
				drifted += ", ..."
			}
		}
		fmt.Fprintf(tw, "  %s v%d\t%s +%s\t%d\t%s\n", d.Model, d.Version, d.WindowStart.UTC().Format(time.RFC3339),
			time.Duration(d.WindowSeconds)*time.Second, d.Judged, drifted)
	}
	if len(r.Drift.Windows) == 0 && r.Drift.Error == "" {
		fmt.Fprintln(tw, "  (no drift figures yet: a window is written when it closes)")
	}
	errLine(r.Drift.Error)

	section("PERFORMANCE (latest window)\tWINDOW\tFIGURES")
	switch {
	case r.Performance.Error != "":
	case !r.Performance.Available || len(r.Performance.Windows) == 0:
		fmt.Fprintln(tw, "  no performance figures yet")
	}
	for _, p := range r.Performance.Windows {
		name := p.Model + " v" + p.Version
		if p.Route != "" {
			name += " " + p.Route
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, p.Window, metricList(p.Metrics))
	}
	errLine(r.Performance.Error)

	section("JOBS\tSTATUS\tSTEP\tTRIGGER\tCREATED")
	for _, j := range r.Jobs.Jobs {
		fmt.Fprintf(tw, "  %s %s\t%s\t%s\t%s\t%s\n", j.Model, j.JobID, j.Status, dash(j.Step), j.Trigger, j.CreatedAt.UTC().Format(time.RFC3339))
	}
	if len(r.Jobs.Jobs) == 0 && r.Jobs.Error == "" {
		fmt.Fprintln(tw, "  (no job queued or running)")
	}
	errLine(r.Jobs.Error)
	return tw.Flush()
}

func seconds(s float64) string {
	switch {
	case s < 0.001:
		return fmt.Sprintf("%.0fµs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.1fms", s*1e3)
	default:
		return fmt.Sprintf("%.1fs", s)
	}
}

func aliasesWithWeight(as []model.Alias) string {
	if len(as) == 0 {
		return "-"
	}
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("%s=v%d", a.Name, a.Version)
		if a.Weight != nil {
			parts[i] += fmt.Sprintf(" (%g)", *a.Weight)
		}
	}
	return strings.Join(parts, ", ")
}
