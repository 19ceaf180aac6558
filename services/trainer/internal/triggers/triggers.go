// Package triggers turns what asks for training into jobs and runs them:
// tributary.train.requested.v1 requests (a durable JetStream consumer that
// the trainer's replicas share), HTTP requests, drift and
// performance-degradation alerts for models whose spec asks for it, cron
// schedules, and the recovery loop that claims the jobs no live replica
// runs (after a restart, or when a replica died).
package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
	"github.com/tributary-ml/tributary/services/trainer/internal/pipeline"
)

// Runner runs a job and its model's follow-ups.
type Runner interface {
	Run(ctx context.Context, id string) error
	Expire(ctx context.Context, j jobs.Job) (string, error)
}

// Service submits jobs and runs them, at most Concurrency at once.
type Service struct {
	store  *jobs.Store
	specs  jetstream.KeyValue
	runner Runner
	logger *slog.Logger
	prefix string
	sem    chan struct{}

	wg sync.WaitGroup
	mu sync.Mutex
	// running are the jobs this replica runs now.
	running map[string]bool
}

// New returns the service; concurrency bounds the jobs run at once.
func New(store *jobs.Store, specs jetstream.KeyValue, runner Runner, logger *slog.Logger, prefix string, concurrency int) *Service {
	if concurrency < 1 {
		concurrency = 1
	}
	return &Service{store: store, specs: specs, runner: runner, logger: logger, prefix: prefix, sem: make(chan struct{}, concurrency), running: map[string]bool{}}
}

// ErrBadRequest reports a training request that can never be run.
var ErrBadRequest = errors.New("bad training request")

// Submit records a job and, when it is its model's active job, starts
// running it in the background (until ctx ends).
func (s *Service) Submit(ctx context.Context, req jobs.Request) (jobs.Job, jobs.Outcome, error) {
	if err := model.ValidateName("model", req.Model); err != nil {
		return jobs.Job{}, "", fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if err := ValidJobID(req.JobID); err != nil {
		return jobs.Job{}, "", err
	}
	if req.Trigger == "" {
		req.Trigger = event.TriggerManual
	}
	j, out, err := s.store.Submit(ctx, req)
	if err != nil {
		return j, out, err
	}
	s.logger.Info("training job submitted", "job_id", req.JobID, "model", req.Model, "trigger", req.Trigger, "outcome", out)
	if out == jobs.OutcomeActive {
		s.start(ctx, req.JobID)
	}
	return j, out, nil
}

// ValidJobID checks a job id: it is a KV key token.
func ValidJobID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("%w: job id %q: want 1 to 128 characters", ErrBadRequest, id)
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("%w: job id %q: letters, digits, '-' and '_' only (it is a KV key)", ErrBadRequest, id)
		}
	}
	return nil
}

// start runs a job in the background unless this replica runs it already.
func (s *Service) start(ctx context.Context, id string) {
	s.mu.Lock()
	if s.running[id] {
		s.mu.Unlock()
		return
	}
	s.running[id] = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.running, id)
			s.mu.Unlock()
		}()
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-s.sem }()
		err := s.runner.Run(ctx, id)
		switch {
		case err == nil, ctx.Err() != nil:
		case errors.Is(err, jobs.ErrClaimed):
			s.logger.Debug("job run elsewhere", "job_id", id)
		default:
			s.logger.Error("run training job", "job_id", id, "err", err)
		}
	}()
}

// Wait waits for the jobs started to return (after their context ended).
func (s *Service) Wait() { s.wg.Wait() }

// Recover claims, every interval until ctx ends, the active jobs that no
// live replica runs: it runs them (they resume at their first unfinished
// step), or fails those already past their deadline.
func (s *Service) Recover(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.recoverOnce(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("recover training jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) recoverOnce(ctx context.Context) error {
	runnable, err := s.store.Runnable(ctx)
	if err != nil {
		return err
	}
	now := s.store.Now()
	for _, j := range runnable {
		s.mu.Lock()
		mine := s.running[j.JobID]
		s.mu.Unlock()
		if mine {
			continue
		}
		if !j.Deadline.IsZero() && !now.Before(j.Deadline) {
			next, err := s.runner.Expire(ctx, j)
			if err != nil {
				return fmt.Errorf("expire job %s: %w", j.JobID, err)
			}
			s.logger.Warn("training job past its deadline failed", "job_id", j.JobID, "model", j.Model)
			if next != "" {
				s.start(ctx, next)
			}
			continue
		}
		s.start(ctx, j.JobID)
	}
	return nil
}

// ConsumeRequests handles tributary.train.requested.v1 from the durable
// consumer durable (shared by the replicas: each request goes to one),
// acknowledging each once its job is recorded. A redelivered request finds
// its job and starts nothing; an undecodable or invalid one is logged and
// terminated.
func (s *Service) ConsumeRequests(ctx context.Context, js jetstream.JetStream, durable string) error {
	subject, _ := event.Subject(event.TypeTrainRequested)
	return s.consume(ctx, js, durable, []string{s.prefix + subject}, func(ctx context.Context, e eventMsg) error {
		var r event.TrainRequested
		if err := json.Unmarshal(e.data, &r); err != nil {
			return fmt.Errorf("%w: decode: %v", ErrBadRequest, err)
		}
		_, _, err := s.Submit(ctx, jobs.Request{JobID: r.JobID, Model: r.Model, Trigger: r.Trigger, Reason: r.Reason, RequestedBy: r.RequestedBy, Runner: r.Runner, Params: r.Params})
		return err
	})
}

// ConsumeAlerts turns tributary.drift.detected.v1 and
// tributary.performance.degraded.v1 into jobs for the models whose spec
// asks for it (triggers.drift, triggers.performance). The job id is derived
// from the event id, so a redelivered alert starts nothing new, and alerts
// that arrive while a job runs collapse into one follow-up.
func (s *Service) ConsumeAlerts(ctx context.Context, js jetstream.JetStream, durable string) error {
	drift, _ := event.Subject(event.TypeDriftDetected)
	perf, _ := event.Subject(event.TypePerformanceDegraded)
	return s.consume(ctx, js, durable, []string{s.prefix + drift, s.prefix + perf}, func(ctx context.Context, e eventMsg) error {
		var modelName, reason string
		var trigger event.Trigger
		switch e.typ {
		case event.TypeDriftDetected:
			var d event.DriftDetected
			if err := json.Unmarshal(e.data, &d); err != nil {
				return fmt.Errorf("%w: decode: %v", ErrBadRequest, err)
			}
			modelName, trigger = d.Model, event.TriggerDrift
			reason = fmt.Sprintf("%s %s %.4g >= %.4g on version %d", d.Target, d.Metric, d.Value, d.Threshold, d.Version)
			if d.Feature != "" {
				reason += " (" + d.Feature + ")"
			}
		case event.TypePerformanceDegraded:
			var p event.PerformanceDegraded
			if err := json.Unmarshal(e.data, &p); err != nil {
				return fmt.Errorf("%w: decode: %v", ErrBadRequest, err)
			}
			modelName, trigger = p.Model, event.TriggerPerformance
			reason = fmt.Sprintf("%s %.4g against baseline %.4g on version %d", p.Metric, p.Value, p.Baseline, p.Version)
		default:
			return nil
		}
		st, err := trainspec.Load(ctx, s.specs, modelName)
		if errors.Is(err, trainspec.ErrNotApplied) {
			return nil // not a model the trainer trains
		}
		if err != nil {
			return err
		}
		if (trigger == event.TriggerDrift && !st.Spec.Triggers.Drift) || (trigger == event.TriggerPerformance && !st.Spec.Triggers.Performance) {
			return nil
		}
		if cd := time.Duration(st.Spec.Triggers.Cooldown); cd > 0 {
			last, err := s.lastJobAsked(ctx, modelName)
			if err != nil {
				return err
			}
			if since := time.Since(last); !last.IsZero() && since < cd {
				s.logger.Info("alert within the model's cooldown, no job", "model", modelName, "trigger", trigger, "event_id", e.id,
					"last_job_asked_ago", since.Round(time.Millisecond), "cooldown", cd)
				return nil
			}
		}
		_, _, err = s.Submit(ctx, jobs.Request{JobID: string(trigger) + "-" + sanitize(e.id), Model: modelName, Trigger: trigger, Reason: reason, RequestedBy: "monitor"})
		return err
	})
}

func sanitize(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

type eventMsg struct {
	id, typ string
	data    []byte
}

func (s *Service) consume(ctx context.Context, js jetstream.JetStream, durable string, subjects []string, handle func(context.Context, eventMsg) error) error {
	cons, err := js.CreateOrUpdateConsumer(ctx, s.prefix+event.StreamName, jetstream.ConsumerConfig{
		Durable:        durable,
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverNewPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        30 * time.Second,
		MaxDeliver:     20,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", durable, err)
	}
	for {
		batch, err := cons.Fetch(16, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch from %s: %w", durable, err)
		}
		// Drain the batch to its end (so that its fetch ends); after a
		// shutdown the rest is left unacknowledged, redelivered later.
		for msg := range batch.Messages() {
			if ctx.Err() != nil {
				continue
			}
			e, err := event.FromJetStreamMsg(msg)
			if err == nil {
				err = handle(ctx, eventMsg{id: e.ID(), typ: e.Type(), data: e.Data()})
			} else {
				err = fmt.Errorf("%w: %v", ErrBadRequest, err)
			}
			switch {
			case err == nil:
				_ = msg.Ack()
			case errors.Is(err, ErrBadRequest) || errors.Is(err, pipeline.ErrBadInput):
				s.logger.Error("training trigger refused", "consumer", durable, "subject", msg.Subject(), "err", err)
				_ = msg.Term()
			default:
				s.logger.Warn("training trigger not handled, redelivered later", "consumer", durable, "err", err)
				_ = msg.NakWithDelay(time.Second)
			}
		}
		if err := batch.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, jetstream.ErrNoMessages) {
			s.logger.Debug("fetch batch", "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// Schedule submits, every tick, a job for each model whose spec's cron
// schedule matched a minute since the last tick. The job id is the model
// and the minute, so the replicas that all see the same minute start one
// job. Minutes that passed while no replica ran are not made up for.
func (s *Service) Schedule(ctx context.Context, tick time.Duration) error {
	last := s.store.Now()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := s.store.Now()
		if err := s.scheduleOnce(ctx, last, now); err != nil {
			s.logger.Warn("scheduled training", "err", err)
			continue
		}
		last = now
	}
}

// scheduleOnce submits the jobs due in (from, to].
func (s *Service) scheduleOnce(ctx context.Context, from, to time.Time) error {
	lister, err := s.specs.ListKeysFiltered(ctx, trainspec.KeyPrefix+">")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list specs: %w", err)
	}
	for key := range lister.Keys() {
		st, err := trainspec.Load(ctx, s.specs, strings.TrimPrefix(key, trainspec.KeyPrefix))
		if err != nil {
			return err
		}
		if st.Spec.Triggers.Schedule == "" {
			continue
		}
		c, err := trainspec.ParseCron(st.Spec.Triggers.Schedule)
		if err != nil {
			continue // checked on apply
		}
		for at := c.Next(from); !at.IsZero() && !at.After(to); at = c.Next(at) {
			id := "schedule-" + st.Spec.Model + "-" + at.UTC().Format("200601021504")
			if _, _, err := s.Submit(ctx, jobs.Request{JobID: id, Model: st.Spec.Model, Trigger: event.TriggerSchedule, Reason: "schedule " + st.Spec.Triggers.Schedule, RequestedBy: "schedule"}); err != nil {
				return err
			}
		}
	}
	return nil
}

// LabelCounter counts the labels of a stream that arrived since a time.
type LabelCounter interface {
	Count(ctx context.Context, stream string, since time.Time) (int64, error)
}

// CountLabels starts, every interval, a job for each model whose spec sets
// triggers.new_labels once that many labels of its stream arrived since its
// last job was asked for (or since the spec was applied); a model with a job
// running or waiting is skipped (that job trains on those labels). The job id is the
// model and that instant, so replicas counting the same window start one
// job, and the count starts again from the new job.
func (s *Service) CountLabels(ctx context.Context, counter LabelCounter, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.countOnce(ctx, counter); err != nil && ctx.Err() == nil {
			s.logger.Warn("count new labels", "err", err)
		}
	}
}

func (s *Service) countOnce(ctx context.Context, counter LabelCounter) error {
	lister, err := s.specs.ListKeysFiltered(ctx, trainspec.KeyPrefix+">")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list specs: %w", err)
	}
	for key := range lister.Keys() {
		st, err := trainspec.Load(ctx, s.specs, strings.TrimPrefix(key, trainspec.KeyPrefix))
		if err != nil {
			return err
		}
		want := st.Spec.Triggers.NewLabels
		if want <= 0 {
			continue
		}
		q, err := s.store.Queue(ctx, st.Spec.Model)
		if err != nil {
			return err
		}
		if q.Active != "" {
			continue // a job will train on these labels
		}
		since, err := s.lastAsked(ctx, st, q)
		if err != nil {
			return err
		}
		n, err := counter.Count(ctx, st.Spec.Labels, since)
		if err != nil {
			return err
		}
		if n < want {
			continue
		}
		id := fmt.Sprintf("labels-%s-%d", st.Spec.Model, since.UnixMilli())
		reason := fmt.Sprintf("%d new labels of %s since %s (threshold %d)", n, st.Spec.Labels, since.Format(time.RFC3339), want)
		if _, _, err := s.Submit(ctx, jobs.Request{JobID: id, Model: st.Spec.Model, Trigger: event.TriggerLabels, Reason: reason, RequestedBy: "labels"}); err != nil {
			return err
		}
	}
	return nil
}

// lastJobAsked is when the newest of the model's jobs (running, waiting or
// ended last) was asked for; zero when it has none.
func (s *Service) lastJobAsked(ctx context.Context, model string) (time.Time, error) {
	q, err := s.store.Queue(ctx, model)
	if err != nil {
		return time.Time{}, err
	}
	return s.newestAsked(ctx, time.Time{}, q.Active, q.Pending, q.Last)
}

// lastAsked is when the model's last job was asked for, or when its spec
// was applied.
func (s *Service) lastAsked(ctx context.Context, st trainspec.Stored, q jobs.Queue) (time.Time, error) {
	return s.newestAsked(ctx, st.AppliedAt, q.Last)
}

// newestAsked is the latest of since and the creation times of the jobs
// ids that exist (an empty id is none).
func (s *Service) newestAsked(ctx context.Context, since time.Time, ids ...string) (time.Time, error) {
	for _, id := range ids {
		if id == "" {
			continue
		}
		j, err := s.store.Get(ctx, id)
		if errors.Is(err, jobs.ErrNotFound) {
			continue
		}
		if err != nil {
			return since, err
		}
		if j.CreatedAt.After(since) {
			since = j.CreatedAt
		}
	}
	return since, nil
}
