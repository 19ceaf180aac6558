package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/trainspec"
)

// trainerJob is the part of the trainer's job record the test reads.
type trainerJob struct {
	JobID      string `json:"job_id"`
	Status     string `json:"status"`
	Error      string `json:"error"`
	Failure    string `json:"failure"`
	FailedStep string `json:"failed_step"`
	Version    int    `json:"version"`
	Log        string `json:"log"`
	Steps      []struct {
		Name     string    `json:"name"`
		Status   string    `json:"status"`
		Attempts int       `json:"attempts"`
		Started  time.Time `json:"started_at"`
		Ended    time.Time `json:"ended_at"`
	} `json:"steps"`
	Dataset    *event.DatasetReady `json:"dataset"`
	Evaluation *struct {
		HoldoutRows       int                `json:"holdout_rows"`
		TrainRows         int                `json:"train_rows"`
		Metrics           map[string]float64 `json:"metrics"`
		ProductionVersion int                `json:"production_version"`
		ProductionMetrics map[string]float64 `json:"production_metrics"`
	} `json:"evaluation"`
	Decision *struct {
		Policy            string   `json:"policy"`
		Action            string   `json:"action"`
		Alias             string   `json:"alias"`
		Metric            string   `json:"metric"`
		Candidate         float64  `json:"candidate"`
		Production        *float64 `json:"production"`
		ProductionVersion int      `json:"production_version"`
		Reason            string   `json:"reason"`
		Moved             bool     `json:"moved"`
	} `json:"decision"`
}

// fixtureUsers is the number of users of a trainingFixture.
const fixtureUsers = 40

// trainingFixture is what the training tests share: a stream and a feature
// view applied, 40 users' events ingested and materialized, and 4 labels per
// user on Kafka, all of them in ClickHouse. User i always spends i; users
// 20..39 are positive, so that last_amount separates the classes.
type trainingFixture struct {
	name, view, labelStream string
	viewVersion             string
	features                []string
	asOf                    time.Time
	nc                      *nats.Conn
	js                      jetstream.JetStream
	featuresKV, jobsKV      jetstream.KeyValue
}

func newTrainingFixture(t *testing.T, ctx context.Context) *trainingFixture {
	t.Helper()
	ingest := stack.platform.Service("ingest").BaseURL
	features := stack.platform.Service("features").BaseURL
	name := "e2et" + randomID(t)[:10]
	typ := "com.example." + name + ".v1"
	view := "v_" + name
	labelStream := "e2e_" + name

	nc, err := nats.Connect(stack.infra.Addrs.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	kv := func(bucket string) jetstream.KeyValue {
		b, err := js.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	schemasKV, featuresKV, jobsKV := kv("tributary_schemas"), kv("tributary_features"), kv("tributary_jobs")
	def := `{"name":"` + name + `","type":"` + typ + `","entity_key":"/user","event_time":"/at",
	  "schema":{"type":"object","required":["user","at","amount"],"properties":{"user":{"type":"string"},"at":{"type":"string","format":"date-time"},"amount":{"type":"number"}}}}`
	if _, err := schemasKV.Put(ctx, name, []byte(def)); err != nil {
		t.Fatal(err)
	}
	views, err := featurespec.Parse([]byte(fmt.Sprintf(`
entities: [{name: user}]
sources: [{name: src, stream: %s, entity_key: /user, event_time: /at, fields: {amount: number}}]
views:
  - name: %s
    entity: user
    source: src
    features:
      - {name: n, agg: count, windows: [1h]}
      - {name: last_amount, agg: latest, field: amount}
`, name, view)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := featurespec.Apply(ctx, featuresKV, views, time.Now()); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(stack.infra.Addrs.KafkaBrokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	t.Cleanup(func() {
		bg := context.Background()
		_ = schemasKV.Purge(bg, name)
		_ = featuresKV.Purge(bg, "view."+view)
		_, _ = kadm.NewClient(cl).DeleteTopics(bg, event.EventsTopic(name), event.IngestTopic(name))
	})

	// 40 users, 3 events each; user i always spends i.
	const users = fixtureUsers
	var batch []map[string]any
	now := time.Now()
	for i := range users * 3 {
		u := i % users
		batch = append(batch, map[string]any{"specversion": "1.0", "id": fmt.Sprintf("%s-%d", name, i), "source": "/e2e", "type": typ,
			"data": map[string]any{"user": fmt.Sprintf("u%02d", u), "at": now.Add(-time.Duration(200-i) * time.Second).UTC().Format(time.RFC3339Nano), "amount": float64(u)}})
	}
	body, _ := json.Marshal(batch)
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, "POST", ingest+"/v1/events", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/cloudevents-batch+json")
		req.Header.Set("Authorization", "Bearer "+ingestKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("ingest: %d %s", resp.StatusCode, b)
		}
		return nil
	})
	// Materialized: every user's count is 3 (the users are spread over
	// the partitions, which the materializer applies independently).
	var asOf time.Time
	everyone := make([]string, users)
	for u := range everyone {
		everyone[u] = fmt.Sprintf("u%02d", u)
	}
	testkit.EventuallyContext(t, 60*time.Second, func(ctx context.Context) error {
		reqBody, _ := json.Marshal(map[string]any{"entities": everyone, "features": []string{view + ":n_1h"}})
		resp, err := http.Post(features+"/v1/features", "application/json", bytes.NewReader(reqBody))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var read struct {
			AsOf    time.Time `json:"as_of"`
			Results []struct {
				Entity string `json:"entity"`
				Values map[string]struct {
					Value any `json:"value"`
				} `json:"values"`
			} `json:"results"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&read); err != nil || len(read.Results) != users {
			return fmt.Errorf("read: %d %v", resp.StatusCode, err)
		}
		for u, r := range read.Results {
			if got := fmt.Sprint(r.Values[view+":n_1h"].Value); got != "3" {
				return fmt.Errorf("%s n_1h %s, want 3", everyone[u], got)
			}
		}
		asOf = read.AsOf
		return nil
	})
	// Labels: 4 per user, the newest at the read instant; users 20..39 are
	// positive.
	for k := range 4 {
		for u := range users {
			e := ce.NewEvent()
			e.SetID(fmt.Sprintf("%s-%d-%d", labelStream, u, k))
			e.SetSource("/e2e")
			e.SetType(event.TypeLabelRecorded)
			e.SetExtension("partitionkey", fmt.Sprintf("u%02d", u))
			v := 0.0
			if u >= users/2 {
				v = 1
			}
			_ = e.SetData(ce.ApplicationJSON, event.LabelRecorded{Stream: labelStream, EntityKey: fmt.Sprintf("u%02d", u), Value: v, EventTime: asOf.Add(-time.Duration(3-k) * 10 * time.Second)})
			rec, err := event.ToKafkaRecord(ctx, e, event.TopicLabels)
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	refs := []string{view + ":last_amount", view + ":n_1h"}
	// The labels reach ClickHouse asynchronously: wait until a training
	// set of the window has them all, so that a job trains on all 160.
	readySubject, _ := event.Subject(event.TypeDatasetReady)
	readySub, err := nc.SubscribeSync(readySubject)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = readySub.Unsubscribe() }()
	attempt := 0
	testkit.EventuallyContext(t, 60*time.Second, func(ctx context.Context) error {
		attempt++
		reqID := fmt.Sprintf("%s-probe-%d", name, attempt)
		e := ce.NewEvent()
		e.SetID(reqID)
		e.SetSource("/e2e")
		e.SetType(event.TypeDatasetRequested)
		_ = e.SetData(ce.ApplicationJSON, event.DatasetRequested{RequestID: reqID, Features: refs, LabelStream: labelStream, Start: asOf.Add(-time.Hour), End: asOf.Add(time.Second)})
		subject, _ := event.Subject(event.TypeDatasetRequested)
		msg, _ := event.ToNATSMsg(e, subject)
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			return err
		}
		for {
			m, err := readySub.NextMsgWithContext(ctx)
			if err != nil {
				return err
			}
			var ready event.DatasetReady
			got, err := event.FromNATSMsg(m)
			if err == nil && json.Unmarshal(got.Data(), &ready) == nil && ready.RequestID == reqID {
				if ready.RowCount != 4*users {
					return fmt.Errorf("%d labels in ClickHouse", ready.RowCount)
				}
				return nil
			}
		}
	})

	return &trainingFixture{name: name, view: view, labelStream: labelStream, viewVersion: views[0].Version,
		features: refs, asOf: asOf, nc: nc, js: js, featuresKV: featuresKV, jobsKV: jobsKV}
}

// applySpec parses, checks and applies a training spec; the spec is
// removed when the test ends.
func (f *trainingFixture) applySpec(t *testing.T, ctx context.Context, src string) *trainspec.Spec {
	t.Helper()
	spec, err := trainspec.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	defs, err := trainspec.Check(ctx, spec, trainspec.KVViews{KV: f.featuresKV})
	if err != nil || defs[f.view] != f.viewVersion {
		t.Fatalf("check spec: %v %v", defs, err)
	}
	if _, err := trainspec.Apply(ctx, f.jobsKV, spec, time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.jobsKV.Purge(context.Background(), trainspec.SpecKey(spec.Model)) })
	return spec
}

// TestTraining drives the real binaries from events to a promoted model:
// a stream and a feature view applied, events through ingest, labels on
// Kafka, a training spec applied to tributary_jobs; a job started over the
// trainer's HTTP API builds the training set with the features service,
// trains the built-in logistic regression, registers the version with its
// lineage in the registry and, with the auto policy and no production yet,
// moves production to it. A second job, started with
// tributary.train.requested.v1 on NATS, is evaluated against that
// production model on its holdout and, no better by the margin, is
// registered and not promoted.
func TestTraining(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	trainer := stack.platform.Service("trainer").BaseURL
	f := newTrainingFixture(t, ctx)
	const users = fixtureUsers
	name, view, nc, js := f.name, f.view, f.nc, f.js
	modelName := "e2e-" + name
	spec := f.applySpec(t, ctx, fmt.Sprintf(`
model: %s
features: [%s:last_amount, %s:n_1h]
labels: %s
task: binary
trainer: {runner: go, name: logistic}
seed: 1
window: 1d
holdout: 0.25
metric: auc
reference: {bins: 8}
policy: {kind: auto, margin: 0.01}
`, modelName, view, view, f.labelStream))

	var started struct {
		Outcome string     `json:"outcome"`
		Job     trainerJob `json:"job"`
	}
	trainerCall(t, ctx, "POST", trainer+"/v1/models/"+modelName+"/train", `{"reason":"e2e"}`, http.StatusAccepted, &started)
	if started.Outcome != "active" {
		t.Fatalf("outcome %s", started.Outcome)
	}
	job := waitJob(t, ctx, trainer, started.Job.JobID)
	if job.Dataset == nil || job.Dataset.RowCount != 4*users {
		t.Fatalf("job %s trained on %+v", job.JobID, job.Dataset)
	}
	if job.Status != "succeeded" {
		t.Fatalf("job %s %s at %s: %s\n%s", job.JobID, job.Status, job.FailedStep, job.Error, job.Log)
	}
	for _, s := range job.Steps {
		if s.Status != "done" || s.Attempts != 1 || s.Ended.Before(s.Started) {
			t.Errorf("step %+v", s)
		}
	}
	ev := job.Evaluation
	if ev.HoldoutRows != users || ev.TrainRows != 3*users || !(ev.Metrics["auc"] > 0.99) {
		t.Errorf("evaluation %+v", ev)
	}

	reg := model.NewClient(nc, js)
	prod, err := reg.Version(ctx, modelName, model.AliasProduction)
	if err != nil {
		t.Fatalf("production of %s: %v\n%s", modelName, err, job.Log)
	}
	l := prod.Lineage
	switch {
	case prod.Version != job.Version || prod.Format != "tributary":
		t.Errorf("production is version %d (%s), the job registered %d", prod.Version, prod.Format, job.Version)
	case l.TrainingSetID != job.Dataset.DatasetID || l.TrainingSetSHA256 != job.Dataset.SHA256:
		t.Errorf("lineage training set %s %s, dataset %+v", l.TrainingSetID, l.TrainingSetSHA256, job.Dataset)
	case l.FeatureDefinitions[view] != f.viewVersion:
		t.Errorf("feature definitions %v, view version %s", l.FeatureDefinitions, f.viewVersion)
	case !slices.Equal(l.Features, spec.Features):
		t.Errorf("features %v", l.Features)
	case l.Trainer != "logistic" || l.JobID != job.JobID || l.Trigger != event.TriggerManual || l.CodeVersion == "" || l.Params["seed"] != "1":
		t.Errorf("lineage %+v", l)
	case l.Metrics["auc"] != ev.Metrics["auc"]:
		t.Errorf("metrics %v, evaluation %v", l.Metrics, ev.Metrics)
	}
	// The reference of last_amount: the 120 training rows, values 0..39.
	ref := l.Reference.Features[view+":last_amount"]
	if ref.Count != int64(3*users) || ref.Min != 0 || ref.Max != users-1 || len(ref.Edges) != 9 {
		t.Errorf("reference of last_amount %+v", ref)
	}
	if p := l.Reference.Prediction; p.Count != int64(3*users) || p.Min < 0 || p.Max > 1 {
		t.Errorf("prediction reference %+v", p)
	}
	d := job.Decision
	if d == nil || d.Policy != "auto" || d.Action != "promote" || d.Alias != "production" || !d.Moved || d.Reason != "no production version yet" || d.Candidate != ev.Metrics["auc"] {
		t.Fatalf("decision %+v", d)
	}

	// The job is a tracked run, for `tributary runs show`.
	var run struct {
		Status      string            `json:"status"`
		JobID       string            `json:"job_id"`
		Model       string            `json:"model"`
		Tags        map[string]string `json:"tags"`
		TrainingSet struct {
			ID   string `json:"id"`
			Rows int64  `json:"rows"`
		} `json:"training_set"`
		Metrics map[string]struct {
			Value   float64 `json:"value"`
			Dataset string  `json:"dataset"`
		} `json:"metrics"`
	}
	trainerCall(t, ctx, "GET", trainer+"/v1/runs/"+job.JobID, "", http.StatusOK, &run)
	if run.Status != "FINISHED" || run.JobID != job.JobID || run.Model != modelName || run.TrainingSet.ID != job.Dataset.DatasetID || run.TrainingSet.Rows != 4*users ||
		run.Tags["tributary.step.promote"] != "done, 1 attempt" || run.Metrics["auc"].Value != ev.Metrics["auc"] || run.Metrics["auc"].Dataset != "holdout" {
		t.Errorf("run %+v", run)
	}

	// A second job, asked over NATS: the same data, compared with that
	// production model on the same holdout, is not better by the margin.
	jobID := "e2e-" + randomID(t)
	e := ce.NewEvent()
	e.SetID(jobID)
	e.SetSource("/e2e")
	e.SetType(event.TypeTrainRequested)
	_ = e.SetData(ce.ApplicationJSON, event.TrainRequested{JobID: jobID, Model: modelName, Trigger: event.TriggerManual, RequestedBy: "e2e"})
	subject, _ := event.Subject(event.TypeTrainRequested)
	msg, _ := event.ToNATSMsg(e, subject)
	done, _ := event.Subject(event.TypeTrainCompleted)
	sub, err := nc.SubscribeSync(done)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	job2 := waitJob(t, ctx, trainer, jobID)
	d2 := job2.Decision
	if job2.Status != "succeeded" || d2 == nil || d2.Action != "none" || d2.Moved || d2.ProductionVersion != prod.Version || d2.Production == nil || *d2.Production != job2.Evaluation.ProductionMetrics["auc"] {
		t.Fatalf("second job %s: %+v\n%s", job2.Status, d2, job2.Log)
	}
	if again, err := reg.Version(ctx, modelName, model.AliasProduction); err != nil || again.Version != prod.Version {
		t.Errorf("production moved to %d (%v)", again.Version, err)
	}
	// tributary.train.completed.v1 announced it.
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			t.Fatalf("no train.completed for %s: %v", jobID, err)
		}
		got, err := event.FromNATSMsg(m)
		var c event.TrainCompleted
		if err == nil && json.Unmarshal(got.Data(), &c) == nil && c.JobID == jobID {
			if c.Version != job2.Version || c.Model != modelName || c.Metrics["auc"] != job2.Evaluation.Metrics["auc"] {
				t.Errorf("train.completed %+v", c)
			}
			break
		}
	}
}

func trainerCall(t *testing.T, ctx context.Context, method, url, body string, want int, out any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, b, want)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %v in %s", method, url, err, b)
	}
}

// waitJob polls a job until it ends.
func waitJob(t *testing.T, ctx context.Context, trainer, id string) trainerJob {
	t.Helper()
	var j trainerJob
	testkit.EventuallyContext(t, 2*time.Minute, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", trainer+"/v1/jobs/"+id, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET job %s: %d", id, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
			return err
		}
		if j.Status != "succeeded" && j.Status != "failed" {
			return errors.New("job " + id + " is " + j.Status)
		}
		return nil
	})
	return j
}
