package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/learn/categorical"
	"github.com/tributary-ml/tributary/libs/learn/modelfile"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/gorunner"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
	"github.com/tributary-ml/tributary/services/trainer/internal/natsio"
	"github.com/tributary-ml/tributary/services/trainer/internal/pipeline"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
	"github.com/tributary-ml/tributary/services/trainer/internal/tabular"
	"github.com/tributary-ml/tributary/services/trainer/internal/tracking"
	"github.com/tributary-ml/tributary/services/trainer/internal/trainertest"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

// events records published events, checked against their schemas.
type events struct {
	t  *testing.T
	v  *event.Validator
	mu sync.Mutex
	by map[string][]any
}

func (e *events) Publish(_ context.Context, eventType, id string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if err := e.v.Validate(eventType, b); err != nil {
		e.t.Errorf("event %s %s does not match its schema: %v", eventType, id, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.by[eventType] = append(e.by[eventType], data)
	return nil
}

func (e *events) count(eventType string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.by[eventType])
}

type env struct {
	t        *testing.T
	nats     *trainertest.Embedded
	kv       jetstream.KeyValue
	store    *jobs.Store
	registry *trainertest.Registry
	datasets *trainertest.Datasets
	events   *events
	cfg      pipeline.Config
}

func newEnv(t *testing.T) *env {
	e := trainertest.StartEmbedded(t)
	_, js := e.Connect()
	v, err := event.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	kv := e.Jobs(js)
	return &env{
		t: t, nats: e, kv: kv, store: jobs.NewStore(kv), registry: trainertest.NewRegistry(), datasets: &trainertest.Datasets{},
		events: &events{t: t, v: v, by: map[string][]any{}},
		cfg:    pipeline.Config{Owner: "w1", Lease: 5 * time.Second, Attempts: 3, Backoff: 10 * time.Millisecond, WorkDir: t.TempDir(), CodeVersion: "test-1"},
	}
}

func (e *env) pipeline(cfg pipeline.Config) *pipeline.Pipeline {
	return pipeline.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), e.store, natsio.Specs{KV: e.kv}, e.datasets, e.registry,
		map[string]runner.Runner{"go": gorunner.Runner{}}, e.events)
}

func spec(model string, policy trainspec.Policy) *trainspec.Spec {
	return &trainspec.Spec{
		Model: model, Features: []string{"txn:a", "txn:b", "usr:c"}, Labels: "fraud", Task: trainspec.TaskBinary,
		Trainer: trainspec.Trainer{Runner: "go", Name: "logistic", Params: map[string]string{"c": "1"}}, Seed: 3,
		Window: featurespec.Duration(30 * 24 * time.Hour), Holdout: 0.25, Metric: "auc", Policy: policy,
	}
}

func (e *env) apply(s *trainspec.Spec) {
	e.t.Helper()
	if err := s.Validate(); err != nil {
		e.t.Fatal(err)
	}
	if _, err := trainspec.Apply(context.Background(), e.kv, s, time.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// run submits a job and runs it to its end.
func (e *env) run(p *pipeline.Pipeline, id, model string) jobs.Job {
	e.t.Helper()
	ctx := context.Background()
	_, out, err := e.store.Submit(ctx, jobs.Request{JobID: id, Model: model, Trigger: event.TriggerManual, RequestedBy: "test"})
	if err != nil || out != jobs.OutcomeActive {
		e.t.Fatalf("submit %s: %v %v", id, out, err)
	}
	if err := p.Run(ctx, id); err != nil {
		e.t.Fatalf("run %s: %v", id, err)
	}
	j, err := e.store.Get(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

func TestAutoPolicyPromotesTheBetterModelOnly(t *testing.T) {
	e := newEnv(t)
	e.apply(spec("fraud", trainspec.Policy{Kind: trainspec.PolicyAuto, Margin: 0.01}))
	p := e.pipeline(e.cfg)

	// A weak first model: little signal.
	e.datasets.Frame = func(req event.DatasetRequested) *tabular.Frame { return trainertest.Synthetic(req.Features, 800, 0.15) }
	j1 := e.run(p, "job-1", "fraud")
	if j1.Status != jobs.StatusSucceeded {
		t.Fatalf("job 1 %s at %s: %s\n%s", j1.Status, j1.FailedStep, j1.Error, j1.Log)
	}
	for _, s := range j1.Steps {
		if s.Status != jobs.StepDone || s.Attempts != 1 || s.StartedAt.IsZero() || s.EndedAt.Before(s.StartedAt) {
			t.Errorf("step %+v", s)
		}
	}
	if d := j1.Decision; d == nil || d.Action != "promote" || d.Reason != "no production version yet" || !d.Moved || d.Production != nil {
		t.Fatalf("decision of job 1: %+v", j1.Decision)
	}
	if got := e.registry.Alias("fraud", "production"); got != 1 {
		t.Fatalf("production -> %d, want 1", got)
	}
	v1 := e.registry.Versions("fraud")[0]
	l := v1.Lineage
	ds := j1.Dataset
	switch {
	case l.TrainingSetID != ds.DatasetID || l.TrainingSetSHA256 != ds.SHA256 || len(l.TrainingSetSHA256) != 64:
		t.Errorf("training set %s %s, job's %s %s", l.TrainingSetID, l.TrainingSetSHA256, ds.DatasetID, ds.SHA256)
	case strings.Join(l.Features, ",") != "txn:a,txn:b,usr:c":
		t.Errorf("features %v", l.Features)
	case l.FeatureDefinitions["txn"] != "def-txn" || l.FeatureDefinitions["usr"] != "def-usr":
		t.Errorf("feature definitions %v", l.FeatureDefinitions)
	case l.Trainer != "logistic" || l.CodeVersion != "test-1" || l.JobID != "job-1" || l.Trigger != event.TriggerManual:
		t.Errorf("lineage %+v", l)
	case l.Params["c"] != "1" || l.Params["seed"] != "3" || l.Params["runner"] != "go" || l.Params["spec_version"] != j1.SpecVersion:
		t.Errorf("params %v", l.Params)
	case v1.Format != "tributary" || v1.RequestID != "job-1":
		t.Errorf("version %+v", v1)
	}
	ev := j1.Evaluation
	if ev.HoldoutRows != 200 || ev.TrainRows != 600 || l.Metrics["auc"] != ev.Metrics["auc"] || !(ev.Metrics["auc"] > 0.5) {
		t.Errorf("evaluation %+v, lineage metrics %v", ev, l.Metrics)
	}
	// The reference distributions: each feature's, on the 600 training rows.
	for _, f := range l.Features {
		d, ok := l.Reference.Features[f]
		if !ok || d.Count != 600 || len(d.Edges) != 11 || d.Validate() != nil || math.Abs(d.Mean) > 0.2 || math.Abs(d.StdDev-1) > 0.15 {
			t.Errorf("reference of %s: %+v", f, d)
		}
	}
	if pd := l.Reference.Prediction; pd.Count != 600 || pd.Min < 0 || pd.Max > 1 || pd.Validate() != nil {
		t.Errorf("prediction reference %+v", pd)
	}
	// The holdout is the newest quarter, never trained on.
	req := e.datasets.Requests[0]
	if req.RequestID != "job-job-1" || req.LabelStream != "fraud" || req.End.Sub(req.Start) != 30*24*time.Hour || req.JobID != "job-1" {
		t.Errorf("dataset request %+v", req)
	}

	// A strong second model beats it by more than the margin.
	e.datasets.Frame = func(req event.DatasetRequested) *tabular.Frame { return trainertest.Synthetic(req.Features, 800, 1.5) }
	j2 := e.run(p, "job-2", "fraud")
	d2 := j2.Decision
	if j2.Status != jobs.StatusSucceeded || d2.Action != "promote" || d2.ProductionVersion != 1 || d2.Production == nil || !(d2.Candidate-*d2.Production >= 0.01) {
		t.Fatalf("job 2: %s %+v", j2.Status, d2)
	}
	if j2.Evaluation.ProductionMetrics["auc"] != *d2.Production {
		t.Errorf("production figure %v, evaluation %v", *d2.Production, j2.Evaluation.ProductionMetrics)
	}
	if got := e.registry.Alias("fraud", "production"); got != 2 {
		t.Fatalf("production -> %d, want 2", got)
	}

	// A third one trained on noise does not (its holdout, the newest
	// quarter, has the signal that production learnt): registered, not
	// promoted, with its figures.
	e.datasets.Frame = func(req event.DatasetRequested) *tabular.Frame {
		noise := trainertest.Synthetic(req.Features, 800, 0)
		signal := trainertest.Synthetic(req.Features, 800, 1.5)
		for j := range noise.X {
			copy(noise.X[j][600:], signal.X[j][600:])
		}
		copy(noise.Label[600:], signal.Label[600:])
		return noise
	}
	j3 := e.run(p, "job-3", "fraud")
	d3 := j3.Decision
	if j3.Status != jobs.StatusSucceeded || d3.Action != "none" || d3.Moved || d3.ProductionVersion != 2 || d3.Production == nil || d3.Candidate >= *d3.Production || !strings.Contains(d3.Reason, "does not beat production version 2") {
		t.Fatalf("job 3: %s %+v", j3.Status, d3)
	}
	if got := e.registry.Alias("fraud", "production"); got != 2 || j3.Version != 3 {
		t.Fatalf("production -> %d, job 3 registered %d", got, j3.Version)
	}
	if e.events.count(event.TypeTrainStarted) != 3 || e.events.count(event.TypeTrainCompleted) != 3 || e.events.count(event.TypeTrainFailed) != 0 {
		t.Errorf("events %v", e.events.by)
	}
	done := e.events.by[event.TypeTrainCompleted][2].(event.TrainCompleted)
	if done.Version != 3 || done.Metrics["auc"] != j3.Evaluation.Metrics["auc"] || done.JobID != "job-3" {
		t.Errorf("completed event %+v", done)
	}
}

func TestManualAndCanaryPolicies(t *testing.T) {
	e := newEnv(t)
	e.apply(spec("m-manual", trainspec.Policy{Kind: trainspec.PolicyManual}))
	e.apply(spec("m-canary", trainspec.Policy{Kind: trainspec.PolicyCanary, CanaryWeight: 0.2}))
	p := e.pipeline(e.cfg)
	jm := e.run(p, "jm", "m-manual")
	if jm.Status != jobs.StatusSucceeded || jm.Decision.Action != "none" || jm.Version != 1 || e.registry.Alias("m-manual", "production") != 0 {
		t.Fatalf("manual: %s %+v", jm.Status, jm.Decision)
	}
	// The first version of a canary model is production: a canary needs
	// a production version beside it.
	j1 := e.run(p, "jc1", "m-canary")
	if j1.Status != jobs.StatusSucceeded || j1.Decision.Action != "promote" || j1.Decision.Alias != "production" || !j1.Decision.Moved {
		t.Fatalf("first canary-policy job: %s %+v", j1.Status, j1.Decision)
	}
	jc := e.run(p, "jc", "m-canary")
	if jc.Status != jobs.StatusSucceeded || jc.Decision.Action != "canary" || *jc.Decision.Weight != 0.2 || !jc.Decision.Moved {
		t.Fatalf("canary: %s %+v", jc.Status, jc.Decision)
	}
	if e.registry.Alias("m-canary", "canary") != 2 || e.registry.Alias("m-canary", "production") != 1 {
		t.Fatal("canary alias not moved")
	}
}

func TestBadInputFailsAtOnceAndRegistersNothing(t *testing.T) {
	single := func(req event.DatasetRequested) *tabular.Frame {
		f := trainertest.Synthetic(req.Features, 100, 1)
		for i := range f.Label {
			f.Label[i] = 1
		}
		return f
	}
	inf := func(req event.DatasetRequested) *tabular.Frame {
		f := trainertest.Synthetic(req.Features, 100, 1)
		f.X[1][17] = math.Inf(1)
		return f
	}
	empty := func(req event.DatasetRequested) *tabular.Frame { return trainertest.Synthetic(req.Features, 0, 1) }
	cases := []struct {
		name  string
		frame func(event.DatasetRequested) *tabular.Frame
		spec  func(*trainspec.Spec)
		step  string
		want  string
	}{
		{"single class", single, nil, jobs.StepTrain, "single_class"},
		{"infinite feature", inf, nil, jobs.StepTrain, "non_finite_feature"},
		{"empty training set", empty, nil, jobs.StepDataset, `empty training set: no labels of stream "fraud"`},
		{"runner not here", nil, func(s *trainspec.Spec) {
			s.Trainer = trainspec.Trainer{Runner: "exec", Name: "py", Command: []string{"python3"}}
		}, jobs.StepTrain, `no runner "exec"`},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			s := spec("m", trainspec.Policy{Kind: trainspec.PolicyAuto})
			if c.spec != nil {
				c.spec(s)
			}
			e.apply(s)
			e.datasets.Frame = c.frame
			j := e.run(e.pipeline(e.cfg), "bad"+string(rune('0'+i)), "m")
			if j.Status != jobs.StatusFailed || j.Failure != jobs.ReasonBadInput || j.FailedStep != c.step || !strings.Contains(j.Error, c.want) {
				t.Fatalf("job %s reason %s at %s: %s", j.Status, j.Failure, j.FailedStep, j.Error)
			}
			if st := j.Step(c.step); st.Attempts != 1 || st.Status != jobs.StepFailed || !strings.Contains(st.Error, c.want) {
				t.Errorf("step %+v: bad input is not retried", st)
			}
			if !strings.Contains(j.Log, c.want) {
				t.Errorf("log does not keep the reason:\n%s", j.Log)
			}
			if len(e.registry.Versions("m")) != 0 || e.registry.Registers != 0 {
				t.Errorf("a failed job registered a version")
			}
			if e.events.count(event.TypeTrainFailed) != 1 {
				t.Errorf("failed events %d", e.events.count(event.TypeTrainFailed))
			}
		})
	}
}

func TestUnknownModelFails(t *testing.T) {
	e := newEnv(t)
	j := e.run(e.pipeline(e.cfg), "j", "nospec")
	if j.Status != jobs.StatusFailed || j.Failure != jobs.ReasonBadInput || !strings.Contains(j.Error, "no training spec applied for model nospec") {
		t.Fatalf("%s %s %s", j.Status, j.Failure, j.Error)
	}
}

func TestRegistryDownIsRetried(t *testing.T) {
	e := newEnv(t)
	e.apply(spec("m", trainspec.Policy{Kind: trainspec.PolicyAuto}))
	e.registry.FailRegister = 2
	reg := prometheus.NewRegistry()
	p := e.pipeline(e.cfg)
	p.Instrument(reg)
	j := e.run(p, "j1", "m")
	if got := testutil.ToFloat64(collector(t, reg, "tributary_trainer_step_attempts_total", "retried", "register")); got != 2 {
		t.Errorf("register retried %v times in the metrics, want 2", got)
	}
	if j.Status != jobs.StatusSucceeded || j.Step(jobs.StepRegister).Attempts != 3 || len(e.registry.Versions("m")) != 1 {
		t.Fatalf("job %s, register attempts %d, versions %d", j.Status, j.Step(jobs.StepRegister).Attempts, len(e.registry.Versions("m")))
	}

	// Down for longer than the attempts: the job fails at register, says
	// so, and nothing is registered.
	e.registry.FailRegister = 100
	j = e.run(p, "j2", "m")
	if n, err := testutil.GatherAndCount(reg, "tributary_trainer_jobs_total"); err != nil || n != 2 {
		t.Errorf("jobs_total series %d %v, want succeeded and error", n, err)
	}
	if j.Status != jobs.StatusFailed || j.Failure != jobs.ReasonError || j.FailedStep != jobs.StepRegister || !strings.Contains(j.Error, "unavailable") || j.Step(jobs.StepRegister).Attempts != 3 {
		t.Fatalf("job %s %s at %s: %s", j.Status, j.Failure, j.FailedStep, j.Error)
	}
	if len(e.registry.Versions("m")) != 1 || j.Step(jobs.StepTrain).Status != jobs.StepDone {
		t.Fatalf("versions %d", len(e.registry.Versions("m")))
	}
}

func TestDeadlineFailsTheJob(t *testing.T) {
	e := newEnv(t)
	s := spec("m", trainspec.Policy{Kind: trainspec.PolicyAuto})
	s.Deadline = featurespec.Duration(300 * time.Millisecond)
	e.apply(s)
	e.datasets.Block = true
	j := e.run(e.pipeline(e.cfg), "slow", "m")
	if j.Status != jobs.StatusFailed || j.Failure != jobs.ReasonDeadline || j.FailedStep != jobs.StepDataset {
		t.Fatalf("job %s %s at %s: %s", j.Status, j.Failure, j.FailedStep, j.Error)
	}
	if got := j.EndedAt.Sub(j.StartedAt); got > 5*time.Second {
		t.Errorf("ended %v after the start", got)
	}
	if e.events.count(event.TypeTrainFailed) != 1 {
		t.Error("no failed event")
	}
	// The model's queue moved on: a new job runs.
	e.datasets.Block = false
	if j := e.run(e.pipeline(e.cfg), "next", "m"); j.Status != jobs.StatusSucceeded {
		t.Fatalf("next job %s: %s", j.Status, j.Error)
	}
}

func TestResumedJobRedoesNoFinishedStep(t *testing.T) {
	e := newEnv(t)
	e.apply(spec("m", trainspec.Policy{Kind: trainspec.PolicyAuto}))
	ctx, cancel := context.WithCancel(context.Background())
	// Replica w1 stops (its context ends) while the registry is down.
	e.registry.FailRegister = 1 << 30
	cfg := e.cfg
	cfg.Attempts, cfg.Lease = 1000, 600*time.Millisecond
	p1 := e.pipeline(cfg)
	if _, _, err := e.store.Submit(ctx, jobs.Request{JobID: "j", Model: "m", Trigger: event.TriggerSchedule}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p1.Run(ctx, "j") }()
	testkit.EventuallyContext(t, 20*time.Second, func(ctx context.Context) error {
		j, err := e.store.Get(ctx, "j")
		if err != nil {
			return err
		}
		if j.Step(jobs.StepRegister).Attempts < 2 {
			return errors.New("register not retried yet")
		}
		return nil
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("run after shutdown: %v", err)
	}
	j, _ := e.store.Get(context.Background(), "j")
	if j.Status != jobs.StatusRunning || j.Owner != "w1" {
		t.Fatalf("job after the stop: %s %s", j.Status, j.Owner)
	}
	// Replica w2 finds it once the lease ran out, and resumes at register.
	e.registry.FailRegister = 0
	cfg.Owner = "w2"
	p2 := e.pipeline(cfg)
	var runnable []jobs.Job
	testkit.EventuallyContext(t, 10*time.Second, func(ctx context.Context) error {
		var err error
		runnable, err = e.store.Runnable(ctx)
		if err == nil && len(runnable) != 1 {
			err = errors.New("not runnable yet")
		}
		return err
	})
	if err := p2.Run(context.Background(), runnable[0].JobID); err != nil {
		t.Fatal(err)
	}
	j, _ = e.store.Get(context.Background(), "j")
	if j.Status != jobs.StatusSucceeded || j.Owner != "w2" || j.Claims != 2 {
		t.Fatalf("resumed job %s owner %s claims %d: %s", j.Status, j.Owner, j.Claims, j.Error)
	}
	if len(e.datasets.Requests) != 1 || j.Step(jobs.StepTrain).Attempts != 1 || j.Step(jobs.StepDataset).Attempts != 1 {
		t.Errorf("dataset requests %d, train attempts %d: finished steps were redone", len(e.datasets.Requests), j.Step(jobs.StepTrain).Attempts)
	}
	if len(e.registry.Versions("m")) != 1 || e.registry.Alias("m", "production") != 1 {
		t.Errorf("versions %d", len(e.registry.Versions("m")))
	}
	if e.events.count(event.TypeTrainStarted) != 1 || e.events.count(event.TypeTrainCompleted) != 1 {
		t.Errorf("events %v", e.events.by)
	}
}

func TestJobsAreTrackedRuns(t *testing.T) {
	e := newEnv(t)
	e.apply(spec("m", trainspec.Policy{Kind: trainspec.PolicyAuto}))
	_, js := e.nats.Connect()
	store, err := runs.Open(context.Background(), js, "")
	if err != nil {
		t.Fatal(err)
	}
	p := e.pipeline(e.cfg)
	p.SetTracker(tracking.New(store, "test-1"))
	j := e.run(p, "tracked", "m")
	r, err := store.Run(context.Background(), "tracked")
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case r.Status != runs.StatusFinished || r.EndTime != j.EndedAt.UnixMilli() || r.Model != "m" || r.JobID != "tracked" || r.Trigger != "manual":
		t.Errorf("run %+v", r)
	case r.TrainingSet == nil || r.TrainingSet.ID != j.Dataset.DatasetID || r.TrainingSet.Rows != 600 || r.FeatureDefinitions["txn"] != "def-txn":
		t.Errorf("training set %+v %v", r.TrainingSet, r.FeatureDefinitions)
	case r.Trainer != "logistic" || r.CodeVersion != "test-1" || r.Seed == nil || *r.Seed != 3 || r.Params["c"] != "1" || r.Params["policy"] != "auto":
		t.Errorf("lineage %+v", r)
	case len(r.Artifacts) != 1 || r.Artifacts[0].SHA256 != j.Artifact.SHA256:
		t.Errorf("artifacts %+v", r.Artifacts)
	case float64(r.Metrics["auc"].Value) != j.Evaluation.Metrics["auc"] || r.Metrics["auc"].Dataset != "holdout":
		t.Errorf("metrics %+v", r.Metrics)
	case r.Tags["tributary.step.register"] != "done, 1 attempt" || r.Tags["tributary.version"] != "1" || !strings.HasPrefix(r.Tags["tributary.decision"], "promote: "):
		t.Errorf("tags %v", r.Tags)
	case !strings.Contains(r.Log.Stdout.Data, "registered m version 1"):
		t.Errorf("log %q", r.Log.Stdout.Data)
	}

	// A failed job's run says where it stopped.
	e.datasets.Frame = func(req event.DatasetRequested) *tabular.Frame { return trainertest.Synthetic(req.Features, 0, 1) }
	e.run(p, "tracked-bad", "m")
	r, err = store.Run(context.Background(), "tracked-bad")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != runs.StatusFailed || !strings.HasPrefix(r.Tags["tributary.error"], "dataset: bad_input: ") || !strings.HasPrefix(r.Tags["tributary.step.dataset"], "failed, 1 attempt: ") || r.Tags["tributary.step.train"] != "pending, 0 attempts" {
		t.Errorf("failed run %s %v", r.Status, r.Tags)
	}
}

func TestGBDTTrainer(t *testing.T) {
	e := newEnv(t)
	s := spec("trees", trainspec.Policy{Kind: trainspec.PolicyAuto})
	s.Trainer = trainspec.Trainer{Runner: "go", Name: "gbdt", Params: map[string]string{"max_iter": "40", "max_leaves": "8", "early_stopping": "off"}}
	e.apply(s)
	e.datasets.Frame = func(req event.DatasetRequested) *tabular.Frame { return trainertest.Synthetic(req.Features, 1000, 1.5) }
	j := e.run(e.pipeline(e.cfg), "g1", "trees")
	if j.Status != jobs.StatusSucceeded || !(j.Evaluation.Metrics["auc"] > 0.8) || j.Decision.Action != "promote" {
		t.Fatalf("job %s %s: %v %+v", j.Status, j.Error, j.Evaluation, j.Decision)
	}
	v := e.registry.Versions("trees")[0]
	rc, err := e.registry.OpenArtifact(context.Background(), v.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var head struct {
		Kind string `json:"kind"`
	}
	if err := json.NewDecoder(rc).Decode(&head); err != nil || head.Kind != "gbdt" || v.Lineage.Trainer != "gbdt" || v.Lineage.Params["max_iter"] != "40" {
		t.Errorf("model kind %q (%v), lineage %+v", head.Kind, err, v.Lineage)
	}
}

// collector finds one series of a counter vector on reg, by its label
// values in the order of the label names (outcome, step).
func collector(t *testing.T, reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := true
			for i, l := range m.GetLabel() {
				if i < len(labels) && l.GetValue() != labels[i] {
					match = false
				}
			}
			if match {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
				c.Add(m.GetCounter().GetValue())
				return c
			}
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return nil
}

func TestRegressionAndMulticlass(t *testing.T) {
	e := newEnv(t)
	reg := spec("price", trainspec.Policy{Kind: trainspec.PolicyAuto})
	reg.Task, reg.Metric, reg.Trainer = trainspec.TaskRegression, "rmse", trainspec.Trainer{Runner: "go", Name: "ridge", Params: map[string]string{"alpha": "0.1"}}
	e.apply(reg)
	multi := spec("kind", trainspec.Policy{Kind: trainspec.PolicyManual})
	multi.Task, multi.Classes, multi.Metric = trainspec.TaskMulticlass, 3, "accuracy"
	e.apply(multi)
	e.datasets.Frame = func(req event.DatasetRequested) *tabular.Frame {
		f := trainertest.Synthetic(req.Features, 600, 1)
		for i := range f.Label {
			x := f.X[0][i] + 2*f.X[1][i]
			if req.RequestID == pipeline.DatasetRequestID("r1") {
				f.Label[i] = 3*x + 1 // regression
			} else {
				f.Label[i] = float64(min(2, max(0, int(math.Floor(x+1.5))))) // 3 classes
			}
		}
		return f
	}
	p := e.pipeline(e.cfg)
	j := e.run(p, "r1", "price")
	if j.Status != jobs.StatusSucceeded || !(j.Evaluation.Metrics["rmse"] < 0.01) || !(j.Evaluation.Metrics["r2"] > 0.99) || j.Decision.Action != "promote" {
		t.Fatalf("regression %s %s: %v %+v", j.Status, j.Error, j.Evaluation, j.Decision)
	}
	m := e.run(p, "m1", "kind")
	if m.Status != jobs.StatusSucceeded || !(m.Evaluation.Metrics["accuracy"] > 0.8) {
		t.Fatalf("multiclass %s %s: %v", m.Status, m.Error, m.Evaluation)
	}
	pd := e.registry.Versions("kind")[0].Lineage.Reference.Prediction
	if pd.Kind != "categorical" || pd.Count != 450 || len(pd.Categories) != 3 || pd.Validate() != nil {
		t.Errorf("multiclass prediction reference %+v", pd)
	}
}

// categoricalFrame is a binary set of a numeric feature (noise) and a
// string one whose category drives the label; every 25th row has no
// category.
func categoricalFrame(features []string, rows int) *tabular.Frame {
	r := rand.New(rand.NewPCG(5, 6))
	f := &tabular.Frame{Features: features, X: make([][]float64, 2), Text: [][]string{nil, {}}}
	rate := map[string]float64{"grocery": 0.05, "fuel": 0.1, "travel": 0.6, "games": 0.8, "books": 0.1}
	names := []string{"grocery", "grocery", "grocery", "fuel", "fuel", "travel", "games", "books"}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i := range rows {
		c := names[r.IntN(len(names))]
		p := rate[c]
		f.X[0] = append(f.X[0], r.NormFloat64())
		if i%25 == 0 {
			f.X[1], f.Text[1] = append(f.X[1], math.NaN()), append(f.Text[1], "")
			p = 0.2
		} else {
			f.X[1], f.Text[1] = append(f.X[1], 0), append(f.Text[1], c)
		}
		y := 0.0
		if r.Float64() < p {
			y = 1
		}
		f.Entity = append(f.Entity, "e"+strconv.Itoa(i%50))
		f.TimeMs = append(f.TimeMs, start+int64(i)*60_000)
		f.Label = append(f.Label, y)
	}
	return f
}

// TestCategoricalFeature trains on a string feature with each built-in
// classifier: the model learns the category, the model file (version 2)
// and the lineage carry the vocabulary, the reference of the feature is
// categorical, and a second job evaluates the production model (itself
// categorical) on its holdout.
func TestCategoricalFeature(t *testing.T) {
	for _, trainer := range []string{"logistic", "gbdt"} {
		t.Run(trainer, func(t *testing.T) {
			e := newEnv(t)
			s := spec("cat-"+trainer, trainspec.Policy{Kind: trainspec.PolicyAuto, Margin: 0.5})
			s.Features = []string{"txn:noise", "txn:merchant"}
			s.Trainer = trainspec.Trainer{Runner: "go", Name: trainer, Params: map[string]string{"max_categories": "4"}}
			e.apply(s)
			e.datasets.Frame = func(req event.DatasetRequested) *tabular.Frame { return categoricalFrame(req.Features, 2000) }
			j := e.run(e.pipeline(e.cfg), "c1", s.Model)
			if j.Status != jobs.StatusSucceeded || !(j.Evaluation.Metrics["auc"] > 0.75) {
				t.Fatalf("job %s %s: %+v", j.Status, j.Error, j.Evaluation)
			}
			t.Logf("%s: holdout AUC %.4f", trainer, j.Evaluation.Metrics["auc"])
			v := e.registry.Versions(s.Model)[0]
			voc, ok := v.Lineage.Categorical["txn:merchant"]
			// 5 categories, max_categories 4: books (the rarest) goes to other.
			if !ok || len(voc.Categories) != 4 || voc.Categories[0] != "grocery" || slices.Contains(voc.Categories, "books") || !voc.Other || len(v.Lineage.Categorical) != 1 {
				t.Errorf("lineage categorical %+v", v.Lineage.Categorical)
			}
			ref := v.Lineage.Reference.Features["txn:merchant"]
			if ref.Kind != model.KindCategorical || ref.Missing == 0 || ref.Other == 0 || len(ref.Categories) != 4 || ref.Validate() != nil {
				t.Errorf("reference %+v", ref)
			}
			if v.Lineage.Reference.Features["txn:noise"].Kind != model.KindNumeric {
				t.Errorf("numeric reference %+v", v.Lineage.Reference.Features["txn:noise"])
			}
			rc, err := e.registry.OpenArtifact(context.Background(), v.Artifact)
			if err != nil {
				t.Fatal(err)
			}
			_, h, err := modelfile.Load(rc)
			rc.Close()
			if err != nil || h.Version != modelfile.VersionCategorical || len(h.Categorical) != 1 {
				t.Fatalf("model file %+v: %v", h, err)
			}
			wantEnc := categorical.OneHot
			if trainer == "gbdt" {
				wantEnc = categorical.Ordinal
			}
			if h.Categorical[0].Encoding != wantEnc {
				t.Errorf("encoding %s, want %s", h.Categorical[0].Encoding, wantEnc)
			}
			if e.registry.Alias(s.Model, model.AliasProduction) != v.Version {
				t.Fatalf("production is not version %d (decision %+v)", v.Version, j.Decision)
			}
			j2 := e.run(e.pipeline(e.cfg), "c2", s.Model)
			if j2.Status != jobs.StatusSucceeded || j2.Evaluation.ProductionVersion != v.Version || j2.Evaluation.ProductionMetrics["auc"] != j.Evaluation.Metrics["auc"] {
				t.Errorf("second job %s %s: %+v", j2.Status, j2.Error, j2.Evaluation)
			}
		})
	}
}

// A job's training window ends when the job was asked for, whenever it
// starts: a job that waited an hour (behind another job, or orphaned by a
// crash) asks for the labels its trigger saw, not an hour's newer ones.
func TestWindowEndsWhenTheJobWasAskedFor(t *testing.T) {
	e := newEnv(t)
	// The job is asked for an hour ago (the clock lags), and runs now.
	var mu sync.Mutex
	lag := -time.Hour
	e.store = jobs.NewStore(e.kv, jobs.WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(lag) }))
	e.apply(spec("m", trainspec.Policy{Kind: trainspec.PolicyManual}))
	ctx := context.Background()
	sub, _, err := e.store.Submit(ctx, jobs.Request{JobID: "late", Model: "m", Trigger: event.TriggerManual})
	if err != nil {
		t.Fatal(err)
	}
	asked := sub.CreatedAt
	mu.Lock()
	lag = 0
	mu.Unlock()
	if err := e.pipeline(e.cfg).Run(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	j, err := e.store.Get(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	wantTo := asked.Truncate(time.Millisecond)
	wantFrom := wantTo.Add(-30 * 24 * time.Hour)
	if j.Status != jobs.StatusSucceeded || !j.LabelsTo.Equal(wantTo) || !j.LabelsFrom.Equal(wantFrom) {
		t.Fatalf("job %s (%s): window [%s, %s), want [%s, %s)", j.Status, j.Error, j.LabelsFrom, j.LabelsTo, wantFrom, wantTo)
	}
	if len(e.datasets.Requests) != 1 || !e.datasets.Requests[0].End.Equal(wantTo) || !e.datasets.Requests[0].Start.Equal(wantFrom) {
		t.Errorf("dataset requests %+v, want one for [%s, %s)", e.datasets.Requests, wantFrom, wantTo)
	}
}
