package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
)

func runnerName(r jobs.Job, s trainspec.Spec) string {
	if r.Runner != "" {
		return r.Runner
	}
	if s.Trainer.Runner != "" {
		return s.Trainer.Runner
	}
	return "go"
}

// logf appends a line to the job's log (kept in the record at the next
// write).
func (j *job) logf(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	fmt.Fprintf(&j.log, "%s %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// Write makes the job's log an io.Writer for the runner's output.
func (j *job) Write(b []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.log.Write(b)
}

func (j *job) logTail() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	b := j.log.Bytes()
	if n := j.p.cfg.LogBytes; len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// update changes the job record (as its owner), with the log tail.
func (j *job) update(ctx context.Context, change func(*jobs.Job)) error {
	rec, err := j.p.store.Update(ctx, j.id, j.p.cfg.Owner, func(r *jobs.Job) error {
		change(r)
		r.Log = j.logTail()
		return nil
	})
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.rec = rec
	j.mu.Unlock()
	j.p.track(ctx, rec, j.spec)
	return nil
}

func (j *job) record() jobs.Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rec
}

func (j *job) stepDone(name string) bool {
	r := j.record()
	s := r.Step(name)
	return s != nil && s.Status == jobs.StepDone
}

// IsBadInput reports whether err is one that retrying cannot fix.
func IsBadInput(err error) bool {
	var de *learn.DataError
	if errors.Is(err, ErrBadInput) || errors.As(err, &de) {
		return true
	}
	var me *model.Error
	if errors.As(err, &me) {
		switch me.Code {
		case model.CodeUnavailable, model.CodeInternal, model.CodeConflict:
			return false
		}
		return true
	}
	return false
}

// runStep runs a step with retries, recording each attempt.
func (j *job) runStep(ctx context.Context, name string, fn func(context.Context) error) error {
	cfg := j.p.cfg
	delay := cfg.Backoff
	for {
		if err := j.update(ctx, func(r *jobs.Job) {
			s := r.Step(name)
			s.Status, s.Attempts, s.Error = jobs.StepRunning, s.Attempts+1, ""
			if s.StartedAt.IsZero() {
				s.StartedAt = j.p.store.Now()
			}
		}); err != nil {
			return fmt.Errorf("record step %s: %w", name, err)
		}
		rec := j.record()
		attempts := rec.Step(name).Attempts
		j.logf("step %s: attempt %d", name, attempts)
		err := fn(ctx)
		if err == nil {
			j.p.metrics.step(name, "done")
			j.logf("step %s: done", name)
			return j.update(ctx, func(r *jobs.Job) {
				s := r.Step(name)
				s.Status, s.EndedAt = jobs.StepDone, j.p.store.Now()
			})
		}
		j.logf("step %s: %v", name, err)
		final := IsBadInput(err) || attempts >= cfg.Attempts || ctx.Err() != nil
		if uerr := j.update(context.WithoutCancel(ctx), func(r *jobs.Job) {
			s := r.Step(name)
			s.Error = err.Error()
			if final {
				s.Status, s.EndedAt = jobs.StepFailed, j.p.store.Now()
			}
		}); uerr != nil && !errors.Is(uerr, jobs.ErrLeaseLost) {
			return errors.Join(err, uerr)
		}
		if final {
			j.p.metrics.step(name, "failed")
			return err
		}
		j.p.metrics.step(name, "retried")
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, cfg.MaxBackoff)
	}
}

// finish ends the job: failed at step (err != nil) or succeeded, publishes
// the outcome and returns the model's next job.
func (p *Pipeline) finish(ctx context.Context, j *job, step string, err error) (string, error) {
	ctx = context.WithoutCancel(ctx)
	rec := j.record()
	reason := ""
	if err != nil {
		switch {
		case IsBadInput(err):
			reason = jobs.ReasonBadInput
		case errors.Is(err, context.DeadlineExceeded) || (!rec.Deadline.IsZero() && !p.store.Now().Before(rec.Deadline)):
			reason = jobs.ReasonDeadline
		default:
			reason = jobs.ReasonError
		}
		j.logf("failed at step %s (%s): %v", step, reason, err)
	} else {
		j.logf("succeeded: version %d", rec.Version)
	}
	tail := j.logTail()
	end, next, serr := p.store.End(ctx, j.id, p.cfg.Owner, func(r *jobs.Job) {
		r.Log = tail
		if err != nil {
			r.Status, r.Error, r.Failure, r.FailedStep = jobs.StatusFailed, err.Error(), reason, step
			return
		}
		r.Status = jobs.StatusSucceeded
	})
	if serr != nil {
		if errors.Is(serr, jobs.ErrLeaseLost) {
			return "", nil
		}
		return "", serr
	}
	p.track(ctx, end, j.spec)
	dur := end.EndedAt.Sub(end.StartedAt).Seconds()
	if err != nil {
		p.metrics.job(reason, dur)
	} else {
		p.metrics.job(string(jobs.StatusSucceeded), dur)
	}
	runnerName := runnerName(end, j.spec)
	if err != nil {
		p.publish(ctx, event.TypeTrainFailed, j.id+".failed", event.TrainFailed{JobID: j.id, Model: end.Model, Trigger: end.Trigger, Runner: runnerName, Error: truncate(fmt.Sprintf("%s: %s: %v", step, reason, err), 4000), DurationSeconds: dur})
		p.logger.Warn("training job failed", "job_id", j.id, "model", end.Model, "step", step, "reason", reason, "err", err)
	} else {
		metrics := map[string]float64{}
		if end.Evaluation != nil {
			metrics = end.Evaluation.Metrics
		}
		p.publish(ctx, event.TypeTrainCompleted, j.id+".completed", event.TrainCompleted{JobID: j.id, Model: end.Model, Trigger: end.Trigger, Runner: runnerName, Version: end.Version, Metrics: metrics, DurationSeconds: dur})
		p.logger.Info("training job succeeded", "job_id", j.id, "model", end.Model, "version", end.Version)
	}
	return next, nil
}

// Expire fails a job found past its deadline that no replica runs.
func (p *Pipeline) Expire(ctx context.Context, rec jobs.Job) (string, error) {
	j := &job{p: p, id: rec.JobID, rec: rec}
	j.log.WriteString(rec.Log)
	step := ""
	for _, s := range rec.Steps {
		if s.Status != jobs.StepDone {
			step = s.Name
			break
		}
	}
	end, next, err := p.store.End(ctx, rec.JobID, "", func(r *jobs.Job) {
		r.Status, r.Failure, r.FailedStep = jobs.StatusFailed, jobs.ReasonDeadline, step
		r.Error = fmt.Sprintf("deadline %s passed before the job finished", rec.Deadline.Format(time.RFC3339))
	})
	if err != nil {
		return "", err
	}
	if st, err := p.specs.Load(ctx, end.Model); err == nil {
		p.track(ctx, end, st.Spec)
	}
	p.metrics.job(jobs.ReasonDeadline, end.EndedAt.Sub(end.StartedAt).Seconds())
	p.publish(ctx, event.TypeTrainFailed, rec.JobID+".failed", event.TrainFailed{JobID: rec.JobID, Model: end.Model, Trigger: end.Trigger, Runner: runnerName(end, trainspec.Spec{}), Error: step + ": " + jobs.ReasonDeadline + ": " + end.Error})
	return next, nil
}

func (p *Pipeline) publish(ctx context.Context, eventType, id string, data any) {
	if p.events == nil {
		return
	}
	if err := p.events.Publish(ctx, eventType, id, data); err != nil {
		p.logger.Warn("publish event", "type", eventType, "event_id", id, "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
