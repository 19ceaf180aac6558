package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Key prefixes in the bucket.
const (
	JobPrefix   = "jobs."
	QueuePrefix = "queue."
)

// JobKey and QueueKey are the KV keys of a job and of a model's queue.
func JobKey(id string) string      { return JobPrefix + id }
func QueueKey(model string) string { return QueuePrefix + model }

// Typed errors of the store.
var (
	// ErrNotFound: no job with that id.
	ErrNotFound = errors.New("job not found")
	// ErrClaimed: another replica holds the job's lease, or the job is
	// not waiting to run.
	ErrClaimed = errors.New("job is claimed by another replica")
	// ErrLeaseLost: the caller no longer owns the job (its lease ran out
	// and another replica claimed it).
	ErrLeaseLost = errors.New("lease on the job lost")
)

// Store reads and writes job records.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// NewStore returns a store over the bucket tributary_jobs.
func NewStore(kv jetstream.KeyValue, opts ...Option) *Store {
	s := &Store{kv: kv, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now().UTC() }

func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || strings.Contains(err.Error(), "wrong last sequence")
}

// casUpdate applies change to the value at key until the compare-and-set
// wins. change sees found=false for a missing key; returning errSkip writes
// nothing.
func casUpdate[T any](ctx context.Context, kv jetstream.KeyValue, key string, change func(cur *T, found bool) error) (T, error) {
	for attempt := 0; ; attempt++ {
		var cur T
		var rev uint64
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return cur, fmt.Errorf("read %s: %w", key, err)
		default:
			if err := json.Unmarshal(e.Value(), &cur); err != nil {
				return cur, fmt.Errorf("decode %s: %w", key, err)
			}
			rev = e.Revision()
		}
		if err := change(&cur, rev != 0); err != nil {
			if errors.Is(err, errSkip) {
				return cur, nil
			}
			return cur, err
		}
		b, err := json.Marshal(cur)
		if err != nil {
			return cur, fmt.Errorf("encode %s: %w", key, err)
		}
		if rev == 0 {
			_, err = kv.Create(ctx, key, b)
		} else {
			_, err = kv.Update(ctx, key, b, rev)
		}
		if err == nil {
			return cur, nil
		}
		if !isConflict(err) {
			return cur, fmt.Errorf("write %s: %w", key, err)
		}
		if attempt > 50 {
			return cur, fmt.Errorf("write %s: %d compare-and-set conflicts in a row", key, attempt)
		}
		select {
		case <-ctx.Done():
			return cur, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
}

var errSkip = errors.New("skip")

// Get returns a job.
func (s *Store) Get(ctx context.Context, id string) (Job, error) {
	e, err := s.kv.Get(ctx, JobKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Job{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Job{}, fmt.Errorf("read job %s: %w", id, err)
	}
	var j Job
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		return Job{}, fmt.Errorf("decode job %s: %w", id, err)
	}
	return j, nil
}

// Queue returns a model's queue record (empty when it has none).
func (s *Store) Queue(ctx context.Context, model string) (Queue, error) {
	e, err := s.kv.Get(ctx, QueueKey(model))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Queue{Model: model}, nil
	}
	if err != nil {
		return Queue{}, fmt.Errorf("read queue %s: %w", model, err)
	}
	var q Queue
	if err := json.Unmarshal(e.Value(), &q); err != nil {
		return Queue{}, fmt.Errorf("decode queue %s: %w", model, err)
	}
	return q, nil
}

// Outcome says what Submit did with a request.
type Outcome string

// Outcomes.
const (
	// OutcomeActive: the job is the model's active job; run it.
	OutcomeActive Outcome = "active"
	// OutcomeQueued: another job runs; this one is the follow-up.
	OutcomeQueued Outcome = "queued"
	// OutcomeCollapsed: a follow-up was already waiting; the request
	// was merged into it.
	OutcomeCollapsed Outcome = "collapsed"
	// OutcomeDuplicate: a job with that id exists (a redelivery); nothing
	// was started.
	OutcomeDuplicate Outcome = "duplicate"
)

// Submit records a job for the request and puts it in its model's queue.
func (s *Store) Submit(ctx context.Context, req Request) (Job, Outcome, error) {
	now := s.Now()
	j := Job{Request: req, Status: StatusQueued, CreatedAt: now}
	for _, name := range StepNames() {
		j.Steps = append(j.Steps, Step{Name: name, Status: StepPending})
	}
	b, err := json.Marshal(j)
	if err != nil {
		return j, "", fmt.Errorf("encode job %s: %w", req.JobID, err)
	}
	if _, err := s.kv.Create(ctx, JobKey(req.JobID), b); err != nil {
		if !isConflict(err) {
			return j, "", fmt.Errorf("create job %s: %w", req.JobID, err)
		}
		old, err := s.Get(ctx, req.JobID)
		if err != nil {
			return old, "", err
		}
		// The record exists; the queue step may not have happened (a
		// crash in between): enqueue again, which is idempotent.
		if old.Status != StatusQueued {
			return old, OutcomeDuplicate, nil
		}
	}
	var outcome Outcome
	q, err := casUpdate(ctx, s.kv, QueueKey(req.Model), func(q *Queue, _ bool) error {
		q.Model = req.Model
		switch {
		case q.Active == req.JobID:
			outcome = OutcomeDuplicate
			return errSkip
		case q.Pending == req.JobID:
			outcome = OutcomeDuplicate
			return errSkip
		case q.Active == "":
			q.Active, outcome = req.JobID, OutcomeActive
		case q.Pending == "":
			q.Pending, outcome = req.JobID, OutcomeQueued
		default:
			outcome = OutcomeCollapsed
			return errSkip
		}
		return nil
	})
	if err != nil {
		return j, "", err
	}
	if outcome == OutcomeCollapsed {
		into := q.Pending
		if _, err := s.update(ctx, into, func(p *Job) error {
			if !containsString(p.Collapsed, req.JobID) {
				p.Collapsed = append(p.Collapsed, req.JobID)
			}
			return nil
		}); err != nil {
			return j, "", err
		}
		j, err = s.update(ctx, req.JobID, func(c *Job) error {
			c.Status, c.CollapsedInto, c.EndedAt = StatusCollapsed, into, s.Now()
			return nil
		})
		if err != nil {
			return j, "", err
		}
	}
	if outcome == OutcomeDuplicate {
		j, err = s.Get(ctx, req.JobID)
	}
	return j, outcome, err
}

func containsString(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func (s *Store) update(ctx context.Context, id string, change func(*Job) error) (Job, error) {
	return casUpdate(ctx, s.kv, JobKey(id), func(j *Job, found bool) error {
		if !found {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return change(j)
	})
}

// Claim makes owner the job's runner for lease: the job must be queued, or
// running with a lease that ran out (its owner stopped). It fails with
// ErrClaimed when another replica holds the lease or the job has ended.
// The first claim sets StartedAt and the Deadline (StartedAt + deadline).
func (s *Store) Claim(ctx context.Context, id, owner string, lease, deadline time.Duration) (Job, error) {
	return s.update(ctx, id, func(j *Job) error {
		now := s.Now()
		switch {
		case j.Status.Terminal():
			return fmt.Errorf("%w: job %s has ended (%s)", ErrClaimed, id, j.Status)
		case j.Status == StatusRunning && j.Owner != owner && now.Before(j.LeaseUntil):
			return fmt.Errorf("%w: job %s is held by %s until %s", ErrClaimed, id, j.Owner, j.LeaseUntil.Format(time.RFC3339))
		}
		if j.StartedAt.IsZero() {
			j.StartedAt = now
			j.Deadline = now.Add(deadline)
		}
		j.Status, j.Owner, j.LeaseUntil = StatusRunning, owner, now.Add(lease)
		j.Claims++
		return nil
	})
}

// Update changes a job that owner runs; ErrLeaseLost when another replica
// has claimed it since.
func (s *Store) Update(ctx context.Context, id, owner string, change func(*Job) error) (Job, error) {
	return s.update(ctx, id, func(j *Job) error {
		if j.Owner != owner || j.Status != StatusRunning {
			return fmt.Errorf("%w: job %s is %s, owned by %q", ErrLeaseLost, id, j.Status, j.Owner)
		}
		return change(j)
	})
}

// Renew extends owner's lease.
func (s *Store) Renew(ctx context.Context, id, owner string, lease time.Duration) error {
	_, err := s.Update(ctx, id, owner, func(j *Job) error {
		j.LeaseUntil = s.Now().Add(lease)
		return nil
	})
	return err
}

// End records a job's end (succeeded or failed, by end) and moves its
// model's queue on: the pending follow-up, if any, becomes active. It
// returns the id of the job to run next ("" for none). owner "" ends a job
// whatever its owner (a job found past its deadline).
func (s *Store) End(ctx context.Context, id, owner string, end func(*Job)) (Job, string, error) {
	j, err := s.update(ctx, id, func(j *Job) error {
		if j.Status.Terminal() {
			return errSkip
		}
		if owner != "" && j.Owner != owner {
			return fmt.Errorf("%w: job %s is owned by %q", ErrLeaseLost, id, j.Owner)
		}
		end(j)
		j.EndedAt, j.LeaseUntil = s.Now(), time.Time{}
		return nil
	})
	if err != nil {
		return j, "", err
	}
	next, err := s.advance(ctx, j.Model, id)
	return j, next, err
}

// advance moves a model's queue past the ended job id.
func (s *Store) advance(ctx context.Context, model, id string) (string, error) {
	q, err := casUpdate(ctx, s.kv, QueueKey(model), func(q *Queue, _ bool) error {
		if q.Active != id {
			return errSkip
		}
		q.Active, q.Pending, q.Last = q.Pending, "", id
		return nil
	})
	if err != nil {
		return "", err
	}
	if q.Active == id {
		return "", nil
	}
	return q.Active, nil
}

// Runnable lists the active jobs of every model that no live replica runs:
// queued, or running with a lease that ran out. A replica claims them at
// start and periodically, so jobs survive restarts.
func (s *Store) Runnable(ctx context.Context) ([]Job, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, QueuePrefix+">")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("list queues: %w", err)
	}
	var out []Job
	now := s.Now()
	for key := range lister.Keys() {
		q, err := s.Queue(ctx, strings.TrimPrefix(key, QueuePrefix))
		if err != nil {
			return out, err
		}
		if q.Active == "" {
			continue
		}
		j, err := s.Get(ctx, q.Active)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		if j.Status == StatusQueued || (j.Status == StatusRunning && !now.Before(j.LeaseUntil)) {
			out = append(out, j)
		} else if j.Status.Terminal() {
			// Ended, but the queue did not move on (a crash between the
			// two writes): move it now.
			if _, err := s.advance(ctx, j.Model, j.ID()); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// ID is the job's id.
func (j *Job) ID() string { return j.JobID }

// List returns the jobs of a model ("" for all), newest first, at most
// limit (0: all).
func (s *Store) List(ctx context.Context, model string, limit int) ([]Job, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, JobPrefix+">")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	var out []Job
	for key := range lister.Keys() {
		j, err := s.Get(ctx, strings.TrimPrefix(key, JobPrefix))
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return out, err
		}
		if model == "" || j.Model == model {
			out = append(out, j)
		}
	}
	sortNewest(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func sortNewest(js []Job) {
	for i := 1; i < len(js); i++ {
		for k := i; k > 0 && js[k].CreatedAt.After(js[k-1].CreatedAt); k-- {
			js[k], js[k-1] = js[k-1], js[k]
		}
	}
}
