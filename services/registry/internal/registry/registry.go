// Package registry is what the registry's APIs do: each operation changes
// the store and, once the write succeeded, publishes the lifecycle event
// (package lifecycle), and is counted by outcome.
package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/services/registry/internal/lifecycle"
	"github.com/tributary-ml/tributary/services/registry/internal/store"
)

// Registry is the registry's operations.
type Registry struct {
	store     *store.Store
	publisher *lifecycle.Publisher
	logger    *slog.Logger
	ops       *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

// New returns the registry over a store and a publisher.
func New(s *store.Store, p *lifecycle.Publisher, logger *slog.Logger, reg prometheus.Registerer) *Registry {
	f := promauto.With(reg)
	return &Registry{
		store: s, publisher: p, logger: logger,
		ops: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_registry_operations_total",
			Help: "Registry operations, by operation and outcome (ok or the error id: model_not_found, conflict, artifact_corrupt, ...).",
		}, []string{"operation", "outcome"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tributary_registry_operation_duration_seconds",
			Help:    "Time of a registry operation, artifact verification included, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"operation"}),
	}
}

// track starts timing an operation; the returned function, deferred with
// the operation's named error, counts it by outcome.
func (r *Registry) track(op string) func(*error) {
	start := time.Now()
	return func(errp *error) {
		outcome := "ok"
		if *errp != nil {
			outcome = string(model.CodeOf(*errp))
		}
		r.ops.WithLabelValues(op, outcome).Inc()
		r.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	}
}

// Register registers a version whose artifact is in the object store and
// publishes tributary.model.registered.v1.
func (r *Registry) Register(ctx context.Context, req model.RegisterRequest) (v model.Version, err error) {
	defer r.track("register")(&err)
	v, err = r.store.Register(ctx, req)
	if err != nil {
		return v, err
	}
	r.logger.Info("version registered", "model", v.Model, "version", v.Version, "sha256", v.Artifact.SHA256, "actor", v.RegisteredBy)
	l := v.Lineage
	_ = r.publisher.Publish(ctx, event.TypeModelRegistered, fmt.Sprintf("model/%s/v/%d/registered", v.Model, v.Version), v.Model,
		event.ModelRegistered{
			Model: v.Model, Version: v.Version, Format: v.Format,
			ArtifactSHA256: v.Artifact.SHA256, ArtifactSize: v.Artifact.Size,
			TrainingSetID: l.TrainingSetID, TrainingSetSHA256: l.TrainingSetSHA256,
			FeatureDefinitions: nonNilMap(l.FeatureDefinitions), Features: l.Features,
			Trainer: l.Trainer, CodeVersion: l.CodeVersion, Params: l.Params,
			Metrics: l.Metrics, Trigger: l.Trigger, JobID: l.JobID,
		})
	return v, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// RegisterUpload stores an artifact read from body (spooled to a temporary
// file so that memory stays bounded), then registers req with it.
func (r *Registry) RegisterUpload(ctx context.Context, req model.RegisterRequest, body io.Reader, tmpDir string) (model.Version, error) {
	f, err := os.CreateTemp(tmpDir, "registry-upload-*")
	if err != nil {
		return model.Version{}, fmt.Errorf("spool artifact: %w", err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	if _, err := io.Copy(f, body); err != nil {
		return model.Version{}, fmt.Errorf("spool artifact: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return model.Version{}, fmt.Errorf("spool artifact: %w", err)
	}
	a, err := model.PutArtifact(ctx, r.store.ObjectStore(), f)
	if err != nil {
		return model.Version{}, err
	}
	if req.Artifact.SHA256 != "" && req.Artifact.SHA256 != a.SHA256 {
		return model.Version{}, model.Errorf(model.CodeInvalidRequest, "artifact has sha256 %s, the request says %s", a.SHA256, req.Artifact.SHA256)
	}
	req.Artifact = a
	return r.Register(ctx, req)
}

// MoveAlias moves an alias and publishes tributary.model.alias_moved.v1.
func (r *Registry) MoveAlias(ctx context.Context, req model.MoveAliasRequest) (e model.AuditEntry, err error) {
	defer r.track("move_alias")(&err)
	e, err = r.store.MoveAlias(ctx, req)
	if err != nil {
		return e, err
	}
	r.aliasMoved(ctx, e)
	return e, nil
}

// Rollback rolls production back and publishes
// tributary.model.alias_moved.v1 with rollback set.
func (r *Registry) Rollback(ctx context.Context, req model.RollbackRequest) (e model.AuditEntry, err error) {
	defer r.track("rollback")(&err)
	e, err = r.store.Rollback(ctx, req)
	if err != nil {
		return e, err
	}
	r.aliasMoved(ctx, e)
	return e, nil
}

func (r *Registry) aliasMoved(ctx context.Context, e model.AuditEntry) {
	r.logger.Info("alias moved", "model", e.Model, "alias", e.Alias, "from_version", e.FromVersion, "version", e.ToVersion,
		"actor", e.Actor, "rollback", e.Rollback, "revision", e.Revision)
	_ = r.publisher.Publish(ctx, event.TypeModelAliasMoved, fmt.Sprintf("model/%s/alias/%s/%d", e.Model, e.Alias, e.Revision), e.Model,
		event.ModelAliasMoved{
			Model: e.Model, Alias: e.Alias, FromVersion: e.FromVersion, ToVersion: e.ToVersion,
			Weight: e.Weight, Actor: e.Actor, Reason: e.Reason, Rollback: e.Rollback,
		})
}

// Archive archives a version and publishes tributary.model.archived.v1 (not
// again for a version archived already).
func (r *Registry) Archive(ctx context.Context, req model.ArchiveRequest) (v model.Version, err error) {
	defer r.track("archive")(&err)
	v, changed, err := r.store.Archive(ctx, req)
	if err != nil || !changed {
		return v, err
	}
	r.logger.Info("version archived", "model", v.Model, "version", v.Version, "actor", req.Actor)
	_ = r.publisher.Publish(ctx, event.TypeModelArchived, fmt.Sprintf("model/%s/v/%d/archived", v.Model, v.Version), v.Model,
		event.ModelArchived{Model: v.Model, Version: v.Version, Actor: req.Actor, Reason: req.Reason})
	return v, nil
}

// Models lists the models.
func (r *Registry) Models(ctx context.Context) (out []model.ModelInfo, err error) {
	defer r.track("models")(&err)
	return r.store.Models(ctx)
}

// Model returns a model.
func (r *Registry) Model(ctx context.Context, name string) (out model.ModelInfo, err error) {
	defer r.track("model")(&err)
	return r.store.Model(ctx, name)
}

// Versions lists a model's versions.
func (r *Registry) Versions(ctx context.Context, name string) (out []model.Version, err error) {
	defer r.track("versions")(&err)
	return r.store.Versions(ctx, name)
}

// Version returns a version by number or alias.
func (r *Registry) Version(ctx context.Context, name string, ref model.VersionRef) (out model.Version, err error) {
	defer r.track("version")(&err)
	return r.store.Version(ctx, name, ref)
}

// Audit returns a model's alias moves.
func (r *Registry) Audit(ctx context.Context, name string) (out []model.AuditEntry, err error) {
	defer r.track("audit")(&err)
	return r.store.Audit(ctx, name)
}

// OpenArtifact opens a version's artifact, verified as it is read.
func (r *Registry) OpenArtifact(ctx context.Context, name string, ref model.VersionRef) (model.Version, io.ReadCloser, error) {
	return r.store.OpenArtifact(ctx, name, ref)
}

// VerifyArtifact reads a version's artifact in full and checks it.
func (r *Registry) VerifyArtifact(ctx context.Context, v model.Version) (err error) {
	defer r.track("verify_artifact")(&err)
	_, err = model.VerifyArtifact(ctx, r.store.ObjectStore(), v.Artifact.SHA256, v.Artifact.Size)
	return err
}
