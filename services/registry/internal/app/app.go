// Package app is the registry service: its configuration, its connections to
// NATS (with JetStream), and its work.
//
// The source of truth for models. It stores versions with their lineage
// (training-set hash, feature definition versions, code version, parameters,
// metrics, reference distributions for drift) in the NATS KV bucket
// tributary_models, artifacts in the object store tributary_artifacts, and
// moves aliases (production, canary, shadow) with compare-and-set and an
// audit trail. It answers NATS request-reply (package natsapi) and HTTP
// (package httpapi), and publishes lifecycle events (package lifecycle).
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
	"github.com/tributary-ml/tributary/services/registry/internal/httpapi"
	"github.com/tributary-ml/tributary/services/registry/internal/lifecycle"
	"github.com/tributary-ml/tributary/services/registry/internal/natsapi"
	"github.com/tributary-ml/tributary/services/registry/internal/registry"
	"github.com/tributary-ml/tributary/services/registry/internal/store"
)

// Config is the registry service's configuration.
type Config struct {
	NATS      natsx.Config
	JetStream natsx.BootstrapConfig

	// MaxArtifactBytes bounds an artifact uploaded over HTTP.
	MaxArtifactBytes int64
	// UploadDir is where HTTP uploads are spooled ("" for the system's
	// temporary directory).
	UploadDir string
	// OrphanChunkAge is how old the newest chunk of an upload that never
	// stored its object must be before the chunks are removed.
	OrphanChunkAge time.Duration
}

// deps points at the dependency configurations in c.
func (c *Config) deps() deps.Config {
	return deps.Config{NATS: &c.NATS, JetStream: &c.JetStream}
}

// RegisterFlags registers the service's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.deps().RegisterFlags(fs)
	fs.Int64Var(&c.MaxArtifactBytes, "registry.max-artifact-bytes", 1<<30, "Largest artifact accepted by an HTTP upload, in bytes.")
	fs.StringVar(&c.UploadDir, "registry.upload-dir", "", "Directory where HTTP uploads are spooled before they go to the object store (default: the system's temporary directory).")
	fs.DurationVar(&c.OrphanChunkAge, "registry.orphan-chunk-age", time.Hour, "Object-store chunks that no artifact refers to are removed (at start, then at this interval) once their newest chunk is this old: longer than any pause of an upload in progress.")
}

// Validate checks the configuration without contacting anything.
func (c *Config) Validate() error {
	var errs []error
	errs = append(errs, c.deps().Validate())
	if c.OrphanChunkAge <= 0 {
		errs = append(errs, fmt.Errorf("registry.orphan-chunk-age: must be positive, got %s", c.OrphanChunkAge))
	}
	if c.MaxArtifactBytes <= 0 {
		errs = append(errs, fmt.Errorf("registry.max-artifact-bytes: must be positive, got %d", c.MaxArtifactBytes))
	}
	return errors.Join(errs...)
}

// App is the running registry service.
type App struct {
	cfg     Config
	rt      *service.Runtime
	logger  *slog.Logger
	clients *deps.Clients
	routes  atomic.Pointer[map[string]http.Handler]
	ready   chan struct{}
}

// New connects to the service's dependencies (without waiting for them: a
// dependency that is down makes /readyz fail until it is up) and registers
// the HTTP routes, the readiness checks and closers on rt. The routes answer
// 503 unavailable until the store is open.
func New(ctx context.Context, cfg Config, rt *service.Runtime) (*App, error) {
	clients, err := deps.Connect(rt, cfg.deps())
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, rt: rt, logger: rt.Logger, clients: clients, ready: make(chan struct{})}
	probe := httpapi.New(nil, rt.Logger, "", 1)
	// A request that matches none of these is the runtime's 404 or 405,
	// also before NATS is up.
	for pattern := range probe.Routes() {
		rt.Handle(pattern, a.route(pattern))
	}
	rt.AddCheck("store", func(context.Context) error {
		select {
		case <-a.ready:
			return nil
		default:
			return errors.New("store not open yet")
		}
	})
	return a, nil
}

// route forwards to the API's handler of pattern once the store is open.
func (a *App) route(pattern string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routes := a.routes.Load()
		if routes == nil {
			w.Header().Set("Retry-After", httpapi.RetryAfter)
			httperror.Write(w, http.StatusServiceUnavailable, model.CodeUnavailable, "the registry is not connected to NATS yet")
			return
		}
		(*routes)[pattern].ServeHTTP(w, r)
	})
}

// Run waits for NATS and the JetStream bootstrap, opens the store, then
// serves the NATS request-reply API until ctx ends.
func (a *App) Run(ctx context.Context) error {
	if err := a.clients.Bootstrapped(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	nc, js, err := a.clients.NATS(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	prefix := a.cfg.JetStream.Prefix
	st, err := store.Open(ctx, js, prefix)
	if err != nil {
		return err
	}
	pub := lifecycle.NewPublisher(js, prefix, a.rt.Propagator, a.logger, a.rt.Registerer)
	reg := registry.New(st, pub, a.logger, a.rt.Registerer)
	// What an upload killed mid-way (kill -9) left: its spool file and
	// the object-store chunks written before its object was.
	if n, err := registry.CleanSpool(a.cfg.UploadDir); err != nil {
		a.logger.Warn("spool not cleaned", "err", err)
	} else if n > 0 {
		a.logger.Info("stale upload spool files removed", "files", n)
	}
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		a.sweep(ctx, reg)
	}()
	defer func() { <-sweepDone }()
	routes := httpapi.New(reg, a.logger, a.cfg.UploadDir, a.cfg.MaxArtifactBytes).Routes()
	a.routes.Store(&routes)
	close(a.ready)
	a.logger.Info("registry open", "bucket", prefix+natsx.BucketModels, "subjects", model.Subject(prefix, ">"))
	return natsapi.New(reg, prefix, a.logger).Run(ctx, nc)
}

// sweep removes orphaned artifact chunks at start and then every
// OrphanChunkAge, until ctx ends.
func (a *App) sweep(ctx context.Context, reg *registry.Registry) {
	for {
		n, err := reg.SweepArtifacts(ctx, a.cfg.OrphanChunkAge)
		switch {
		case err != nil && ctx.Err() == nil:
			a.logger.Warn("orphaned artifact chunks not swept", "err", err)
		case n > 0:
			a.logger.Info("orphaned artifact chunks removed", "uploads", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.cfg.OrphanChunkAge):
		}
	}
}
