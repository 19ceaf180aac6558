// Package registry is what the registry's APIs do: each operation changes
// the store and, once the write succeeded, publishes the lifecycle event
// (package lifecycle), and is counted by outcome.
package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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

// do runs an operation: at once ErrUnavailable while NATS is unreachable,
// NATS timeouts and closed connections as ErrUnavailable, counted and timed
// by outcome.
func do[T any](r *Registry, op string, f func() (T, error)) (T, error) {
	start := time.Now()
	var out T
	err := r.store.Available()
	if err == nil {
		out, err = f()
		err = r.store.Unavailable(err)
	}
	r.count(op, err)
	r.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	return out, err
}

func (r *Registry) count(op string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = string(model.CodeOf(err))
	}
	r.ops.WithLabelValues(op, outcome).Inc()
}

// Reject counts a request of operation op that the API refused before it
// reached the registry (a malformed body, a wrong content type), and
// returns err.
func (r *Registry) Reject(op string, err error) error {
	r.count(op, err)
	return err
}

// Register registers a version whose artifact is in the object store and
// publishes tributary.model.registered.v1.
func (r *Registry) Register(ctx context.Context, req model.RegisterRequest) (model.Version, error) {
	return r.register(ctx, req, nil)
}

func (r *Registry) register(ctx context.Context, req model.RegisterRequest, upload store.Upload) (model.Version, error) {
	v, err := do(r, "register", func() (model.Version, error) { return r.store.Register(ctx, req, upload) })
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

// MaxMetadataBytes is the largest registration metadata the store takes.
func (r *Registry) MaxMetadataBytes() int { return r.store.MaxMetadataBytes() }

// RegisterUpload registers req with the artifact read from body: spooled
// to a file in spoolDir while it is hashed (memory stays bounded), checked
// against req.Artifact where set, then, once the request id is claimed,
// stored in the object store and registered. The spool file is removed at
// the end; one left by a killed process is removed by CleanSpool.
func (r *Registry) RegisterUpload(ctx context.Context, req model.RegisterRequest, body io.Reader, spoolDir string) (model.Version, error) {
	sp, err := createSpool(spoolDir)
	if err != nil {
		return model.Version{}, err
	}
	defer sp.remove()
	a, err := sp.fill(body)
	if err != nil {
		return model.Version{}, r.Reject("register", err)
	}
	if req.Artifact.SHA256 != "" && req.Artifact.SHA256 != a.SHA256 {
		return model.Version{}, r.Reject("register", model.Errorf(model.CodeInvalidRequest, "artifact has sha256 %s, the metadata's artifact.sha256 says %s", a.SHA256, req.Artifact.SHA256))
	}
	if req.Artifact.Size != 0 && req.Artifact.Size != a.Size {
		return model.Version{}, r.Reject("register", model.Errorf(model.CodeInvalidRequest, "artifact has %d bytes, the metadata's artifact.size says %d", a.Size, req.Artifact.Size))
	}
	req.Artifact = a
	return r.register(ctx, req, func(ctx context.Context) (model.Artifact, error) {
		if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
			return model.Artifact{}, fmt.Errorf("rewind spooled artifact: %w", err)
		}
		return r.store.PutArtifact(ctx, sp.f)
	})
}

// SweepArtifacts removes the object-store chunks of uploads that died
// before they stored their object and are older than olderThan.
func (r *Registry) SweepArtifacts(ctx context.Context, olderThan time.Duration) (int, error) {
	return r.store.SweepArtifacts(ctx, olderThan)
}

// MoveAlias moves an alias and publishes tributary.model.alias_moved.v1.
func (r *Registry) MoveAlias(ctx context.Context, req model.MoveAliasRequest) (model.AuditEntry, error) {
	e, err := do(r, "move_alias", func() (model.AuditEntry, error) { return r.store.MoveAlias(ctx, req) })
	if err != nil {
		return e, err
	}
	r.aliasMoved(ctx, e)
	return e, nil
}

// Rollback rolls production back and publishes
// tributary.model.alias_moved.v1 with rollback set.
func (r *Registry) Rollback(ctx context.Context, req model.RollbackRequest) (model.AuditEntry, error) {
	e, err := do(r, "rollback", func() (model.AuditEntry, error) { return r.store.Rollback(ctx, req) })
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
func (r *Registry) Archive(ctx context.Context, req model.ArchiveRequest) (model.Version, error) {
	var changed bool
	v, err := do(r, "archive", func() (v model.Version, err error) {
		v, changed, err = r.store.Archive(ctx, req)
		return v, err
	})
	if err != nil || !changed {
		return v, err
	}
	r.logger.Info("version archived", "model", v.Model, "version", v.Version, "actor", req.Actor)
	_ = r.publisher.Publish(ctx, event.TypeModelArchived, fmt.Sprintf("model/%s/v/%d/archived", v.Model, v.Version), v.Model,
		event.ModelArchived{Model: v.Model, Version: v.Version, Actor: req.Actor, Reason: req.Reason})
	return v, nil
}

// DeleteAlias removes an alias and publishes
// tributary.model.alias_deleted.v1.
func (r *Registry) DeleteAlias(ctx context.Context, req model.DeleteAliasRequest) (model.AuditEntry, error) {
	e, err := do(r, "delete_alias", func() (model.AuditEntry, error) { return r.store.DeleteAlias(ctx, req) })
	if err != nil {
		return e, err
	}
	r.logger.Info("alias deleted", "model", e.Model, "alias", e.Alias, "from_version", e.FromVersion, "actor", e.Actor, "revision", e.Revision)
	_ = r.publisher.Publish(ctx, event.TypeModelAliasDeleted, fmt.Sprintf("model/%s/alias/%s/%d", e.Model, e.Alias, e.Revision), e.Model,
		event.ModelAliasDeleted{Model: e.Model, Alias: e.Alias, FromVersion: e.FromVersion, Actor: e.Actor, Reason: e.Reason})
	return e, nil
}

// Models lists the models.
func (r *Registry) Models(ctx context.Context) ([]model.ModelInfo, error) {
	return do(r, "models", func() ([]model.ModelInfo, error) { return r.store.Models(ctx) })
}

// Model returns a model.
func (r *Registry) Model(ctx context.Context, name string) (model.ModelInfo, error) {
	return do(r, "model", func() (model.ModelInfo, error) { return r.store.Model(ctx, name) })
}

// Versions lists a model's versions.
func (r *Registry) Versions(ctx context.Context, name string) ([]model.Version, error) {
	return do(r, "versions", func() ([]model.Version, error) { return r.store.Versions(ctx, name) })
}

// Version returns a version by number or alias.
func (r *Registry) Version(ctx context.Context, name string, ref model.VersionRef) (model.Version, error) {
	return do(r, "version", func() (model.Version, error) { return r.store.Version(ctx, name, ref) })
}

// Audit returns a model's alias moves.
func (r *Registry) Audit(ctx context.Context, name string) ([]model.AuditEntry, error) {
	return do(r, "audit", func() ([]model.AuditEntry, error) { return r.store.Audit(ctx, name) })
}

// OpenArtifact opens a version's artifact, verified as it is read.
func (r *Registry) OpenArtifact(ctx context.Context, name string, ref model.VersionRef) (model.Version, io.ReadCloser, error) {
	if err := r.store.Available(); err != nil {
		return model.Version{}, nil, err
	}
	v, rc, err := r.store.OpenArtifact(ctx, name, ref)
	return v, rc, r.store.Unavailable(err)
}

// VerifyArtifact reads a version's artifact in full and checks it.
func (r *Registry) VerifyArtifact(ctx context.Context, v model.Version) error {
	_, err := do(r, "verify_artifact", func() (int64, error) {
		return model.VerifyArtifact(ctx, r.store.ObjectStore(), v.Artifact.SHA256, v.Artifact.Size)
	})
	return err
}
