package triggers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
	"github.com/tributary-ml/tributary/services/trainer/internal/trainertest"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

// fakeRunner claims and holds jobs until released, then ends them.
type fakeRunner struct {
	store   *jobs.Store
	release chan struct{}
	mu      sync.Mutex
	ran     []string
	expired []string
}

func (f *fakeRunner) Run(ctx context.Context, id string) error {
	for id != "" {
		if _, err := f.store.Claim(ctx, id, "fake", time.Minute, time.Hour); err != nil {
			return err
		}
		f.mu.Lock()
		f.ran = append(f.ran, id)
		f.mu.Unlock()
		select {
		case <-f.release:
		case <-ctx.Done():
			return ctx.Err()
		}
		_, next, err := f.store.End(context.WithoutCancel(ctx), id, "fake", func(j *jobs.Job) { j.Status = jobs.StatusSucceeded })
		if err != nil {
			return err
		}
		id = next
	}
	return nil
}

func (f *fakeRunner) Expire(ctx context.Context, j jobs.Job) (string, error) {
	f.mu.Lock()
	f.expired = append(f.expired, j.JobID)
	f.mu.Unlock()
	_, next, err := f.store.End(ctx, j.JobID, "", func(j *jobs.Job) { j.Status, j.Failure = jobs.StatusFailed, jobs.ReasonDeadline })
	return next, err
}

func (f *fakeRunner) runs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ran...)
}

type fixture struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	store  *jobs.Store
	runner *fakeRunner
	svc    *Service
}

func newFixture(t *testing.T) *fixture {
	e := trainertest.StartEmbedded(t)
	_, js := e.Connect()
	kv := e.Jobs(js)
	store := jobs.NewStore(kv)
	r := &fakeRunner{store: store, release: make(chan struct{})}
	svc := New(store, kv, r, slog.New(slog.NewTextHandler(io.Discard, nil)), "", 4)
	return &fixture{js: js, kv: kv, store: store, runner: r, svc: svc}
}

func (f *fixture) apply(t *testing.T, model string, tr trainspec.Triggers) {
	t.Helper()
	s := &trainspec.Spec{Model: model, Features: []string{"v:a"}, Labels: "l", Task: trainspec.TaskBinary,
		Trainer: trainspec.Trainer{Runner: "go", Name: "logistic"}, Window: featurespec.Duration(time.Hour), Holdout: 0.2, Metric: "auc",
		Policy: trainspec.Policy{Kind: trainspec.PolicyManual}, Triggers: tr}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := trainspec.Apply(context.Background(), f.kv, s, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) publish(t *testing.T, eventType, id string, data any) {
	t.Helper()
	e := ce.New()
	e.SetID(id)
	e.SetSource("/test")
	e.SetType(eventType)
	if err := e.SetData(ce.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	subject, _ := event.Subject(eventType)
	msg, err := event.ToNATSMsg(e, subject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) waitJob(t *testing.T, id string, want jobs.Status) jobs.Job {
	t.Helper()
	var j jobs.Job
	testkit.EventuallyContext(t, 10*time.Second, func(ctx context.Context) error {
		var err error
		j, err = f.store.Get(ctx, id)
		if err == nil && j.Status != want {
			err = fmt.Errorf("job %s is %s, want %s", id, j.Status, want)
		}
		return err
	})
	return j
}

func TestRequestsOverNATSCollapseAndRedeliveryStartsNothing(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer f.svc.Wait()
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.svc.ConsumeRequests(ctx, f.js, "test-requests") }()
	defer func() { cancel(); <-done }()
	// The consumer delivers new requests only: wait until it exists.
	testkit.EventuallyContext(t, 10*time.Second, func(ctx context.Context) error {
		_, err := f.js.Consumer(ctx, event.StreamName, "test-requests")
		return err
	})
	req := func(id string) event.TrainRequested {
		return event.TrainRequested{JobID: id, Model: "m", Trigger: event.TriggerManual, RequestedBy: "test"}
	}
	f.publish(t, event.TypeTrainRequested, "e1", req("j1"))
	f.waitJob(t, "j1", jobs.StatusRunning)
	// While j1 runs: a redelivery of j1, then three more triggers.
	f.publish(t, event.TypeTrainRequested, "e1-again", req("j1"))
	for _, id := range []string{"j2", "j3", "j4"} {
		f.publish(t, event.TypeTrainRequested, "e-"+id, req(id))
	}
	f.waitJob(t, "j4", jobs.StatusCollapsed)
	f.waitJob(t, "j3", jobs.StatusCollapsed)
	j2 := f.waitJob(t, "j2", jobs.StatusQueued)
	if len(j2.Collapsed) != 2 {
		t.Errorf("j2 collapsed %v, want j3 and j4", j2.Collapsed)
	}
	// j1 ends: the follow-up j2 runs, once.
	f.runner.release <- struct{}{}
	f.waitJob(t, "j1", jobs.StatusSucceeded)
	f.waitJob(t, "j2", jobs.StatusRunning)
	f.runner.release <- struct{}{}
	f.waitJob(t, "j2", jobs.StatusSucceeded)
	if got := f.runner.runs(); len(got) != 2 || got[0] != "j1" || got[1] != "j2" {
		t.Fatalf("runs %v, want j1 then j2", got)
	}
	all, _ := f.store.List(context.Background(), "m", 0)
	if len(all) != 4 {
		t.Errorf("%d job records, want 4", len(all))
	}
}

func TestAlertsStartJobsOnlyWhereTheSpecAsks(t *testing.T) {
	f := newFixture(t)
	f.apply(t, "watched", trainspec.Triggers{Drift: true})
	f.apply(t, "unwatched", trainspec.Triggers{Performance: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer f.svc.Wait()
	done := make(chan error, 1)
	go func() { done <- f.svc.ConsumeAlerts(ctx, f.js, "test-alerts") }()
	defer func() { cancel(); <-done }()
	testkit.EventuallyContext(t, 10*time.Second, func(ctx context.Context) error {
		_, err := f.js.Consumer(ctx, event.StreamName, "test-alerts")
		return err
	})
	now := time.Now().UTC()
	drift := func(model string) event.DriftDetected {
		return event.DriftDetected{Model: model, Version: 1, Target: event.DriftTargetFeature, Feature: "v:a", Metric: event.DriftPSI, Value: 0.4, Threshold: 0.2, WindowStart: now.Add(-time.Hour), WindowEnd: now, SampleSize: 100}
	}
	f.publish(t, event.TypeDriftDetected, "d-unwatched", drift("unwatched"))
	f.publish(t, event.TypeDriftDetected, "d1", drift("watched"))
	f.publish(t, event.TypeDriftDetected, "d1", drift("watched")) // a redelivery
	f.publish(t, event.TypeDriftDetected, "d-unknown", drift("nospec"))
	j := f.waitJob(t, "drift-d1", jobs.StatusRunning)
	if j.Trigger != event.TriggerDrift || j.Reason != "feature psi 0.4 >= 0.2 on version 1 (v:a)" {
		t.Errorf("job %+v", j.Request)
	}
	f.publish(t, event.TypePerformanceDegraded, "p1", event.PerformanceDegraded{Model: "unwatched", Version: 2, Metric: "auc", Value: 0.6, Baseline: 0.8, WindowStart: now.Add(-time.Hour), WindowEnd: now, SampleSize: 50})
	f.waitJob(t, "performance-p1", jobs.StatusRunning)
	if _, err := f.store.Get(context.Background(), "drift-d-unwatched"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("drift on a model whose spec does not ask started a job: %v", err)
	}
	if n := len(f.runner.runs()); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
	close(f.runner.release)
}

func TestScheduleStartsOneJobPerMatchingMinute(t *testing.T) {
	f := newFixture(t)
	f.apply(t, "nightly", trainspec.Triggers{Schedule: "0 3 * * *"})
	f.apply(t, "manual-only", trainspec.Triggers{})
	ctx, cancel := context.WithCancel(context.Background())
	defer f.svc.Wait()
	defer cancel()
	from := time.Date(2026, 12, 1, 2, 59, 30, 0, time.UTC)
	to := from.Add(2 * time.Minute)
	// Two replicas see the same minute.
	for range 2 {
		if err := f.svc.scheduleOnce(ctx, from, to); err != nil {
			t.Fatal(err)
		}
	}
	j := f.waitJob(t, "schedule-nightly-202612010300", jobs.StatusRunning)
	if j.Trigger != event.TriggerSchedule {
		t.Errorf("trigger %s", j.Trigger)
	}
	all, _ := f.store.List(ctx, "", 0)
	if len(all) != 1 {
		t.Errorf("%d jobs, want 1", len(all))
	}
	// No matching minute: nothing.
	if err := f.svc.scheduleOnce(ctx, to, to.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if all, _ := f.store.List(ctx, "", 0); len(all) != 1 {
		t.Errorf("%d jobs after a window with no match", len(all))
	}
	close(f.runner.release)
}

func TestRecoverFailsJobsPastTheirDeadline(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer f.svc.Wait()
	defer cancel()
	// A job claimed by a replica that died, past its deadline.
	if _, _, err := f.store.Submit(ctx, jobs.Request{JobID: "old", Model: "m", Trigger: event.TriggerManual}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Claim(ctx, "old", "dead", time.Second, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.Submit(ctx, jobs.Request{JobID: "next", Model: "m", Trigger: event.TriggerManual}); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyContext(t, 10*time.Second, func(pctx context.Context) error {
		// The jobs it starts run under the test's context.
		if err := f.svc.recoverOnce(ctx); err != nil {
			return err
		}
		j, err := f.store.Get(pctx, "old")
		if err == nil && j.Status != jobs.StatusFailed {
			err = errors.New("not failed yet")
		}
		return err
	})
	// The follow-up runs.
	f.waitJob(t, "next", jobs.StatusRunning)
	close(f.runner.release)
}

// counter counts the labels given since a time.
type counter struct {
	mu     sync.Mutex
	at     []time.Time
	stream string
}

func (c *counter) Count(_ context.Context, stream string, since time.Time) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stream != c.stream {
		return 0, nil
	}
	var n int64
	for _, t := range c.at {
		if !t.Before(since) {
			n++
		}
	}
	return n, nil
}

func (c *counter) add(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range n {
		c.at = append(c.at, time.Now())
	}
}

func TestNewLabelsStartAJobPerThreshold(t *testing.T) {
	f := newFixture(t)
	f.apply(t, "counted", trainspec.Triggers{NewLabels: 10})
	ctx, cancel := context.WithCancel(context.Background())
	defer f.svc.Wait()
	defer cancel()
	c := &counter{stream: "l"}
	c.add(9)
	if err := f.svc.countOnce(ctx, c); err != nil {
		t.Fatal(err)
	}
	if all, _ := f.store.List(ctx, "", 0); len(all) != 0 {
		t.Fatalf("%d jobs under the threshold", len(all))
	}
	c.add(1)
	for range 3 { // replicas and ticks counting the same window
		if err := f.svc.countOnce(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := f.store.List(ctx, "", 0)
	if len(all) != 1 || all[0].Trigger != event.TriggerLabels || !strings.HasPrefix(all[0].Reason, "10 new labels of l since") {
		t.Fatalf("jobs %+v", all)
	}
	first := all[0].JobID
	f.waitJob(t, first, jobs.StatusRunning)
	f.runner.release <- struct{}{}
	f.waitJob(t, first, jobs.StatusSucceeded)
	// Counting starts again from that job: 10 more labels, one more job.
	if err := f.svc.countOnce(ctx, c); err != nil {
		t.Fatal(err)
	}
	if all, _ := f.store.List(ctx, "", 0); len(all) != 1 {
		t.Fatalf("%d jobs before new labels", len(all))
	}
	c.add(10)
	if err := f.svc.countOnce(ctx, c); err != nil {
		t.Fatal(err)
	}
	all, _ = f.store.List(ctx, "", 0)
	if len(all) != 2 || all[0].JobID == first {
		t.Fatalf("jobs %v", all)
	}
	close(f.runner.release)
}

// TestAlertsWithinTheCooldownStartNothing: a model with triggers.cooldown
// starts a job on its first drift alert and none on the alerts that follow
// within the cooldown, while a model without one collapses them into a
// follow-up as before.
func TestAlertsWithinTheCooldownStartNothing(t *testing.T) {
	f := newFixture(t)
	f.apply(t, "cooled", trainspec.Triggers{Drift: true, Cooldown: featurespec.Duration(time.Hour)})
	f.apply(t, "plain", trainspec.Triggers{Drift: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer f.svc.Wait()
	done := make(chan error, 1)
	go func() { done <- f.svc.ConsumeAlerts(ctx, f.js, "test-cooldown") }()
	defer func() { cancel(); <-done }()
	testkit.EventuallyContext(t, 10*time.Second, func(ctx context.Context) error {
		_, err := f.js.Consumer(ctx, event.StreamName, "test-cooldown")
		return err
	})
	now := time.Now().UTC()
	drift := func(model string) event.DriftDetected {
		return event.DriftDetected{Model: model, Version: 1, Target: event.DriftTargetFeature, Feature: "v:a", Metric: event.DriftPSI, Value: 0.4, Threshold: 0.2, WindowStart: now.Add(-time.Hour), WindowEnd: now, SampleSize: 100}
	}
	f.publish(t, event.TypeDriftDetected, "c1", drift("cooled"))
	f.waitJob(t, "drift-c1", jobs.StatusRunning)
	f.publish(t, event.TypeDriftDetected, "p1", drift("plain"))
	f.waitJob(t, "drift-p1", jobs.StatusRunning)
	// While the first jobs run, and after they end: the cooled model's
	// alerts start nothing, the plain model's second alert is its
	// follow-up.
	f.publish(t, event.TypeDriftDetected, "c2", drift("cooled"))
	f.publish(t, event.TypeDriftDetected, "p2", drift("plain"))
	f.waitJob(t, "drift-p2", jobs.StatusQueued)
	f.runner.release <- struct{}{}
	f.runner.release <- struct{}{}
	f.waitJob(t, "drift-c1", jobs.StatusSucceeded)
	f.waitJob(t, "drift-p2", jobs.StatusRunning)
	f.publish(t, event.TypeDriftDetected, "c3", drift("cooled"))
	testkit.Never(t, 2*time.Second, func() error {
		for _, id := range []string{"drift-c2", "drift-c3"} {
			if _, err := f.store.Get(context.Background(), id); !errors.Is(err, jobs.ErrNotFound) {
				return fmt.Errorf("alert within the cooldown: job %s (%v)", id, err)
			}
		}
		return nil
	})
	close(f.runner.release)
}
