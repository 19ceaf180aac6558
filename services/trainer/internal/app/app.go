// Package app is the trainer service: its configuration, its connections to
// NATS (with JetStream), and its work.
//
// Runs a training job when asked (tributary.train.requested.v1, HTTP), on a
// schedule, or when drift or a performance drop is detected; one job per
// model at a time, later triggers collapsing into one follow-up. A job is a
// pipeline of steps (training set, train, evaluate, register, promote)
// recorded in the NATS KV bucket tributary_jobs, shared by the replicas and
// resumed after a restart. Every job is a tracked run (runs), served over
// the MLflow tracking API (mlflowapi) and the runs API for people (runsapi).
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner/exec"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner/kube"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
	"github.com/tributary-ml/tributary/services/trainer/internal/gorunner"
	"github.com/tributary-ml/tributary/services/trainer/internal/httpapi"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
	"github.com/tributary-ml/tributary/services/trainer/internal/labels"
	"github.com/tributary-ml/tributary/services/trainer/internal/mlflowapi"
	"github.com/tributary-ml/tributary/services/trainer/internal/natsio"
	"github.com/tributary-ml/tributary/services/trainer/internal/pipeline"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
	"github.com/tributary-ml/tributary/services/trainer/internal/runsapi"
	"github.com/tributary-ml/tributary/services/trainer/internal/tracking"
	"github.com/tributary-ml/tributary/services/trainer/internal/triggers"
)

// Config is the trainer service's configuration.
type Config struct {
	NATS       natsx.Config
	JetStream  natsx.BootstrapConfig
	ClickHouse chx.Config

	Owner            string
	Concurrency      int
	Lease            time.Duration
	Attempts         int
	Backoff          time.Duration
	RecoverInterval  time.Duration
	WorkDir          string
	RequestsConsumer string
	AlertsConsumer   string
	ScheduleTick     time.Duration
	LabelsInterval   time.Duration
	DatasetTimeout   time.Duration
	RegistryTimeout  time.Duration
	CodeVersion      string
	TrackingURI      string

	Exec exec.Config
	Kube kube.FlagConfig

	parsed bool // set by Validate: the flags are parsed
}

// deps points at the dependency configurations in c: ClickHouse only when
// the new-labels trigger is on (all for the flags).
func (c *Config) deps() deps.Config {
	d := deps.Config{NATS: &c.NATS, JetStream: &c.JetStream, ClickHouse: &c.ClickHouse}
	if c.LabelsInterval == 0 && c.parsed {
		d.ClickHouse = nil
	}
	return d
}

func defaultOwner() string {
	h, _ := os.Hostname()
	if h == "" {
		h = "trainer"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

func buildRevision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	return "dev"
}

// RegisterFlags registers the service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.deps().RegisterFlags(fs)
	fs.StringVar(&c.Owner, "jobs.owner", "", "This replica's id in job leases (default: host name and process id).")
	fs.IntVar(&c.Concurrency, "jobs.concurrency", 2, "Training jobs this replica runs at once.")
	fs.DurationVar(&c.Lease, "jobs.lease", 30*time.Second, "How long a replica's claim on a job lasts without renewal; another replica resumes a job whose lease ran out.")
	fs.IntVar(&c.Attempts, "jobs.attempts", 5, "Attempts of a step that fails with a transient error (NATS, the object store, the registry); bad input is not retried.")
	fs.DurationVar(&c.Backoff, "jobs.backoff", time.Second, "Delay before a step's first retry, doubled per attempt up to 30s.")
	fs.DurationVar(&c.RecoverInterval, "jobs.recover-interval", 10*time.Second, "How often to look for jobs no live replica runs (after a restart or a crash).")
	fs.StringVar(&c.WorkDir, "jobs.work-dir", filepath.Join(os.TempDir(), "tributary-trainer"), "Scratch directory for training sets and model files (a directory per job, removed at its end).")
	fs.StringVar(&c.RequestsConsumer, "requests.consumer", "trainer-requests", "Durable JetStream consumer of tributary.train.requested (shared by the replicas); empty: take no NATS requests.")
	fs.StringVar(&c.AlertsConsumer, "alerts.consumer", "trainer-alerts", "Durable JetStream consumer of drift and performance alerts; empty: ignore them.")
	fs.DurationVar(&c.ScheduleTick, "schedule.tick", 30*time.Second, "How often the specs' cron schedules are checked (0: no scheduled jobs).")
	fs.DurationVar(&c.LabelsInterval, "labels.interval", time.Minute, "How often the labels that arrived for each spec with triggers.new_labels are counted in ClickHouse (0: no new-labels trigger, and no ClickHouse connection).")
	fs.DurationVar(&c.DatasetTimeout, "datasets.timeout", 30*time.Minute, "How long one attempt waits for the features service's training set.")
	fs.DurationVar(&c.RegistryTimeout, "registry.timeout", 30*time.Second, "Timeout of one registry request.")
	fs.StringVar(&c.CodeVersion, "code-version", buildRevision(), "Code version recorded in the lineage of the versions the built-in runner trains.")
	fs.StringVar(&c.TrackingURI, "mlflow.tracking-uri", "", "The trainer's MLflow tracking API as training code reaches it, given to exec and kubernetes runs as MLFLOW_TRACKING_URI (default: http://127.0.0.1:<port>, which only a command on this machine reaches: set it for the kubernetes runner).")
	c.Exec.RegisterFlags(fs)
	c.Kube.RegisterFlags(fs)
}

// Validate checks the configuration without contacting anything.
func (c *Config) Validate() error {
	c.parsed = true
	if err := c.deps().Validate(); err != nil {
		return err
	}
	switch {
	case c.Concurrency < 1:
		return errors.New("-jobs.concurrency: must be 1 or more")
	case c.Lease < time.Second:
		return errors.New("-jobs.lease: must be at least 1s")
	case c.Attempts < 1:
		return errors.New("-jobs.attempts: must be 1 or more")
	case c.Backoff <= 0:
		return errors.New("-jobs.backoff: must be positive")
	case c.RecoverInterval <= 0:
		return errors.New("-jobs.recover-interval: must be positive")
	case c.WorkDir == "":
		return errors.New("-jobs.work-dir: must be set")
	}
	if err := c.Exec.Validate(); err != nil {
		return fmt.Errorf("-%w", err)
	}
	if err := c.Kube.Validate(); err != nil {
		return fmt.Errorf("-%w", err)
	}
	switch {
	case c.ScheduleTick < 0:
		return errors.New("-schedule.tick: must not be negative")
	case c.LabelsInterval < 0:
		return errors.New("-labels.interval: must not be negative")
	case c.DatasetTimeout <= 0:
		return errors.New("-datasets.timeout: must be positive")
	case c.RegistryTimeout <= 0:
		return errors.New("-registry.timeout: must be positive")
	}
	return nil
}

// App is the running trainer service.
type App struct {
	cfg        Config
	logger     *slog.Logger
	clients    *deps.Clients
	registerer prometheus.Registerer
	store      atomic.Pointer[runs.Store] // nil until the bucket is open
}

// New connects to the service's dependencies (without waiting for them: a
// dependency that is down makes /readyz fail until it is up) and registers
// the readiness checks, closers, HTTP API and background work on rt.
func New(ctx context.Context, cfg Config, rt *service.Runtime) (*App, error) {
	clients, err := deps.Connect(rt, cfg.deps())
	if err != nil {
		return nil, err
	}
	if cfg.Owner == "" {
		cfg.Owner = defaultOwner()
	}
	validator, err := event.NewValidator()
	if err != nil {
		return nil, fmt.Errorf("event schemas: %w", err)
	}
	a := &App{cfg: cfg, logger: rt.Logger, clients: clients, registerer: rt.Registerer}
	for pattern, h := range mlflowapi.New(a.store.Load, rt.Logger).Routes() {
		rt.Handle(pattern, h)
	}
	for pattern, h := range runsapi.New(a.store.Load, rt.Logger).Routes() {
		rt.Handle(pattern, h)
	}
	svc := &lazy{}
	for _, pattern := range httpapi.Patterns() {
		rt.Handle(pattern, svc)
	}
	rt.AddActor("trainer", func(ctx context.Context) error {
		// Everything needs NATS and the platform's buckets: wait for them.
		nc, js, err := clients.NATS(ctx)
		if err != nil {
			return nil
		}
		if err := clients.Bootstrapped(ctx); err != nil {
			return nil
		}
		prefix := cfg.JetStream.Prefix
		runStore, err := a.openRuns(ctx, js)
		if err != nil {
			return nil // ctx ended
		}
		kv, err := js.KeyValue(ctx, prefix+natsx.BucketJobs)
		if err != nil {
			return fmt.Errorf("open %s: %w", natsx.BucketJobs, err)
		}
		store := jobs.NewStore(kv)
		pub := natsio.NewPublisher(js, prefix, validator)
		reg := model.NewClient(nc, js, model.WithPrefix(prefix), model.WithTimeout(cfg.RegistryTimeout), model.WithSource("/tributary/trainer"))
		runners, err := a.runners(ctx, js)
		if err != nil {
			return err
		}
		p := pipeline.New(pipeline.Config{
			Owner: cfg.Owner, Lease: cfg.Lease, Attempts: cfg.Attempts, Backoff: cfg.Backoff,
			WorkDir: cfg.WorkDir, CodeVersion: cfg.CodeVersion, Actor: "trainer",
			TrackingURI: trackingURI(cfg.TrackingURI, rt.HTTPAddr),
		}, rt.Logger, store, natsio.Specs{KV: kv}, natsio.NewDatasets(nc, js, pub, prefix, cfg.DatasetTimeout), reg,
			runners, pub)
		p.SetTracker(tracking.New(runStore, cfg.CodeVersion))
		p.Instrument(rt.Registerer)
		t := triggers.New(store, kv, p, rt.Logger, prefix, cfg.Concurrency)
		svc.set(httpapi.New(t, store, kv))
		defer t.Wait()

		g := service.Group{}
		g.Add("recover", func(ctx context.Context) error { return t.Recover(ctx, cfg.RecoverInterval) })
		if cfg.RequestsConsumer != "" {
			g.Add("requests", func(ctx context.Context) error {
				return retry(ctx, rt.Logger, "requests", func() error { return t.ConsumeRequests(ctx, js, cfg.RequestsConsumer) })
			})
		}
		if cfg.AlertsConsumer != "" {
			g.Add("alerts", func(ctx context.Context) error {
				return retry(ctx, rt.Logger, "alerts", func() error { return t.ConsumeAlerts(ctx, js, cfg.AlertsConsumer) })
			})
		}
		if clients.ClickHouse != nil {
			counter := labels.New(clients.ClickHouse, cfg.ClickHouse.Database)
			g.Add("labels", func(ctx context.Context) error { return t.CountLabels(ctx, counter, cfg.LabelsInterval) })
		}
		if cfg.ScheduleTick > 0 {
			g.Add("schedule", func(ctx context.Context) error { return t.Schedule(ctx, cfg.ScheduleTick) })
		}
		return g.Run(ctx)
	})
	return a, nil
}

// openRetry is how long openRuns waits before opening the run store again.
const openRetry = time.Second

// openRuns opens the run store (retried until ctx ends) and serves it.
func (a *App) openRuns(ctx context.Context, js jetstream.JetStream) (*runs.Store, error) {
	bucket := a.cfg.JetStream.Prefix + natsx.BucketJobs
	for {
		st, err := runs.Open(ctx, js, a.cfg.JetStream.Prefix, runs.WithRegisterer(a.registerer))
		if err == nil {
			a.store.Store(st)
			a.logger.Info("run store open", "bucket", bucket, "record_bytes", st.Limits().RecordBytes)
			return st, nil
		}
		a.logger.Warn("open run store", "bucket", bucket, "err", err)
		t := time.NewTimer(openRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// retry runs a consumer again a second after it stops, until ctx ends.
func retry(ctx context.Context, logger *slog.Logger, name string, run func() error) error {
	for {
		err := run()
		if ctx.Err() != nil {
			return nil
		}
		logger.Warn("consumer stopped, restarting", "consumer", name, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// Run does the service's work until ctx ends; the parts run as actors.
func (a *App) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// runners are the runners a spec's trainer.runner names: the built-in
// learners and any command always, Kubernetes Jobs when configured.
func (a *App) runners(ctx context.Context, js jetstream.JetStream) (map[string]runner.Runner, error) {
	m := map[string]runner.Runner{"go": gorunner.Runner{}, "exec": exec.New(a.cfg.Exec)}
	if !a.cfg.Kube.Enabled() {
		return m, nil
	}
	client, err := a.cfg.Kube.Client()
	if err != nil {
		return nil, fmt.Errorf("kubernetes runner: %w", err)
	}
	objects, err := js.ObjectStore(ctx, a.cfg.JetStream.Prefix+natsx.ObjectStoreArtifacts)
	if err != nil {
		return nil, fmt.Errorf("kubernetes runner: open %s: %w", natsx.ObjectStoreArtifacts, err)
	}
	kr, err := kube.New(a.cfg.Kube.Config, client, objects)
	if err != nil {
		return nil, fmt.Errorf("kubernetes runner: %w", err)
	}
	m["kubernetes"] = kr
	return m, nil
}

// trackingURI is the -mlflow.tracking-uri flag, or else the trainer's own
// HTTP address on the loopback interface (what a command the exec runner
// starts on this machine reaches).
func trackingURI(flagValue, listenAddr string) string {
	if flagValue != "" {
		return flagValue
	}
	_, port, err := net.SplitHostPort(listenAddr)
	if err != nil || port == "" {
		return ""
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port)
}
