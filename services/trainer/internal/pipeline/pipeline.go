package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
)

// Registry is what the pipeline needs of the registry (libs/model.Client).
type Registry interface {
	PutArtifact(ctx context.Context, r io.ReadSeeker) (model.Artifact, error)
	OpenArtifact(ctx context.Context, a model.Artifact) (io.ReadCloser, error)
	Register(ctx context.Context, req model.RegisterRequest) (model.Version, error)
	Version(ctx context.Context, name string, ref model.VersionRef) (model.Version, error)
	MoveAlias(ctx context.Context, req model.MoveAliasRequest) (model.AuditEntry, error)
}

// Datasets builds training sets and downloads them.
type Datasets interface {
	// Build asks for a training set and waits for it. A refusal that
	// cannot change wraps ErrBadInput.
	Build(ctx context.Context, req event.DatasetRequested) (event.DatasetReady, error)
	// Download writes the training set's Parquet file to path.
	Download(ctx context.Context, ready event.DatasetReady, path string) error
}

// Specs reads the applied training specs.
type Specs interface {
	Load(ctx context.Context, model string) (trainspec.Stored, error)
}

// Publisher publishes a platform event; id makes a republished event a
// duplicate.
type Publisher interface {
	Publish(ctx context.Context, eventType, id string, data any) error
}

// Tracker mirrors jobs into tracked runs (internal/tracking); its errors
// are logged, never fail a job.
type Tracker interface {
	Track(ctx context.Context, j jobs.Job, spec trainspec.Spec) error
	RunID(jobID string) string
}

// ErrBadInput marks errors that retrying cannot fix (the runner's
// ErrBadInput).
var ErrBadInput = runner.ErrBadInput

// Config tunes the pipeline.
type Config struct {
	Owner       string        // this replica's id
	Lease       time.Duration // how long a claim lasts without renewal
	Attempts    int           // attempts per step for transient errors
	Backoff     time.Duration // first retry delay, doubled per attempt
	MaxBackoff  time.Duration
	WorkDir     string // scratch space for training sets and models
	CodeVersion string // the trainer's code version, in the lineage
	Actor       string // who moves aliases ("trainer")
	LogBytes    int    // job log tail kept
	// TrackingURI is the trainer's MLflow tracking API as training code
	// reaches it; set, exec and kubernetes runs get MLFLOW_TRACKING_URI
	// and MLFLOW_RUN_ID so an mlflow client logs into the job's run.
	TrackingURI string
}

// Pipeline runs jobs.
type Pipeline struct {
	cfg      Config
	store    *jobs.Store
	specs    Specs
	datasets Datasets
	registry Registry
	runners  map[string]runner.Runner
	events   Publisher
	logger   *slog.Logger
	tracker  Tracker
	metrics  *metrics
}

// SetTracker makes the pipeline mirror its jobs into tracked runs. Call it
// before the first Run.
func (p *Pipeline) SetTracker(t Tracker) { p.tracker = t }

func (p *Pipeline) track(ctx context.Context, j jobs.Job, spec trainspec.Spec) {
	if p.tracker == nil {
		return
	}
	if err := p.tracker.Track(context.WithoutCancel(ctx), j, spec); err != nil {
		p.logger.Warn("track job in its run", "job_id", j.JobID, "err", err)
	}
}

func (p *Pipeline) runID(jobID string) string {
	if p.tracker == nil {
		return jobID
	}
	return p.tracker.RunID(jobID)
}

// New returns a pipeline.
func New(cfg Config, logger *slog.Logger, store *jobs.Store, specs Specs, datasets Datasets, registry Registry, runners map[string]runner.Runner, events Publisher) *Pipeline {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Actor == "" {
		cfg.Actor = "trainer"
	}
	if cfg.LogBytes <= 0 {
		cfg.LogBytes = 16 << 10
	}
	if cfg.CodeVersion == "" {
		cfg.CodeVersion = "dev"
	}
	return &Pipeline{cfg: cfg, store: store, specs: specs, datasets: datasets, registry: registry, runners: runners, events: events, logger: logger}
}

// Run claims job id and runs it and then the model's follow-up jobs, until
// the model's queue is empty. It returns jobs.ErrClaimed when another
// replica runs the job. A job's failure is recorded in the job, not
// returned; an error is returned only when the store could not be written.
func (p *Pipeline) Run(ctx context.Context, id string) error {
	for id != "" {
		next, err := p.runOne(ctx, id)
		if err != nil {
			return err
		}
		id = next
	}
	return nil
}

// job holds a running job's state.
type job struct {
	p    *Pipeline
	id   string
	spec trainspec.Spec
	dir  string

	mu  sync.Mutex
	rec jobs.Job
	log bytes.Buffer
}

func (p *Pipeline) runOne(ctx context.Context, id string) (string, error) {
	j0, err := p.store.Get(ctx, id)
	if err != nil {
		return "", err
	}
	st, specErr := p.specs.Load(ctx, j0.Model)
	deadline := trainspec.DefaultDeadline
	if specErr == nil {
		deadline = st.Spec.JobDeadline()
	}
	rec, err := p.store.Claim(ctx, id, p.cfg.Owner, p.cfg.Lease, deadline)
	if err != nil {
		return "", err
	}
	j := &job{p: p, id: id, rec: rec, dir: filepath.Join(p.cfg.WorkDir, id)}
	j.log.WriteString(rec.Log)
	j.logf("claimed by %s (claim %d)", p.cfg.Owner, rec.Claims)
	log := p.logger.With("job_id", id, "model", rec.Model)

	if rec.Claims == 1 {
		p.publish(ctx, event.TypeTrainStarted, id+".started", event.TrainStarted{JobID: id, Model: rec.Model, Trigger: rec.Trigger, Runner: runnerName(rec, st.Spec)})
	}
	if specErr != nil {
		return p.finish(ctx, j, jobs.StepDataset, fmt.Errorf("%w: %v", ErrBadInput, specErr))
	}
	if rec.SpecVersion != "" && rec.SpecVersion != st.Version {
		j.logf("spec changed since the job started (%s, now %s): the job goes on with the new spec", rec.SpecVersion, st.Version)
	}
	j.spec = st.Spec
	if err := j.update(ctx, func(r *jobs.Job) { r.SpecVersion = st.Version }); err != nil {
		return "", err
	}

	runCtx, cancel := context.WithDeadline(ctx, rec.Deadline)
	defer cancel()
	// Renew the lease while the job runs; losing it stops the job.
	lost := make(chan struct{})
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(p.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if err := p.store.Renew(runCtx, id, p.cfg.Owner, p.cfg.Lease); errors.Is(err, jobs.ErrLeaseLost) {
					close(lost)
					cancel()
					return
				}
			}
		}
	}()
	defer func() { cancel(); <-hbDone }()

	if err := os.MkdirAll(j.dir, 0o755); err != nil {
		return p.finish(ctx, j, jobs.StepDataset, fmt.Errorf("work dir: %w", err))
	}
	defer os.RemoveAll(j.dir)

	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{jobs.StepDataset, j.dataset},
		{jobs.StepTrain, j.train},
		{jobs.StepEvaluate, j.evaluate},
		{jobs.StepRegister, j.register},
		{jobs.StepPromote, j.promote},
	}
	for _, s := range steps {
		if j.stepDone(s.name) {
			continue
		}
		if err := j.runStep(runCtx, s.name, s.fn); err != nil {
			select {
			case <-lost:
				log.Warn("lease lost; another replica runs the job")
				return "", nil
			default:
			}
			if ctx.Err() != nil {
				// Shutting down: leave the job to be resumed.
				return "", ctx.Err()
			}
			return p.finish(ctx, j, s.name, err)
		}
	}
	return p.finish(ctx, j, "", nil)
}
