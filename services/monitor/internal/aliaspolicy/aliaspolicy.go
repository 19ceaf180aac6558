// Package aliaspolicy is the monitor's policy over a model's aliases, from
// the live figures of model_performance:
//
//   - rollback: when the version under a model's canary or production
//     alias degrades in a window (its metric falls behind its own holdout
//     figure, or the previous version's, by more than the policy allows, on
//     at least the minimum sample of labels), it moves the alias back
//     through the registry: production with the registry's rollback (to the
//     version it pointed at before), canary by deleting the alias (its
//     traffic goes back to production);
//   - promotion: when the version under canary has held up since the
//     canary moved to it (its metric not behind production's over the same
//     time by more than the policy allows, each on at least the minimum
//     sample), it moves production to that version and deletes the canary.
//
// Every move is conditional on the alias's revision and carries the
// evidence as its reason in the audit trail.
package aliaspolicy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/services/monitor/internal/performance"
)

// Actor is the actor of the monitor's alias moves in the audit trail.
const Actor = "tributary-monitor"

// Registry is what the policy needs of the registry (model.Client).
type Registry interface {
	Model(ctx context.Context, name string) (model.ModelInfo, error)
	Version(ctx context.Context, name string, ref model.VersionRef) (model.Version, error)
	Rollback(ctx context.Context, req model.RollbackRequest) (model.AuditEntry, error)
	MoveAlias(ctx context.Context, req model.MoveAliasRequest) (model.AuditEntry, error)
	DeleteAlias(ctx context.Context, req model.DeleteAliasRequest) (model.AuditEntry, error)
}

// Figures reads a version's recent live figures (performance.Store).
type Figures interface {
	Recent(ctx context.Context, model string, version int, metric string, size time.Duration, since time.Time) (float64, uint64, error)
}

// Policy applies the models' rollback and promotion settings.
type Policy struct {
	cfg      *performance.Config
	registry func(context.Context) (Registry, error)
	figures  Figures
	logger   *slog.Logger
}

// New returns the policy of cfg's models.
func New(cfg *performance.Config, registry func(context.Context) (Registry, error), figures Figures, logger *slog.Logger) *Policy {
	return &Policy{cfg: cfg, registry: registry, figures: figures, logger: logger}
}

// Action is an alias moved.
type Action struct {
	Model string
	// Kind is KindRollback or KindPromotion.
	Kind    string
	Alias   string
	Version int
	Reason  string
	Entry   model.AuditEntry
}

// The kinds of Action.
const (
	KindRollback  = "rollback"
	KindPromotion = "promotion"
)

// Lookback is how many windows of the row's size the previous version's
// live figures are averaged over.
const Lookback = 24

// session is what one Apply reads of the registry, and what it moved.
type session struct {
	reg   Registry
	infos map[string]model.ModelInfo
	done  map[string]bool // model/alias moved in this call
}

func (s *session) registry(ctx context.Context, p *Policy) (Registry, error) {
	if s.reg == nil {
		reg, err := p.registry(ctx)
		if err != nil {
			return nil, err
		}
		s.reg = reg
	}
	return s.reg, nil
}

// info reads a model's aliases once per call (again after a move); ok is
// false for a model the registry does not know.
func (s *session) info(ctx context.Context, p *Policy, name string) (model.ModelInfo, bool, error) {
	if info, ok := s.infos[name]; ok {
		return info, true, nil
	}
	reg, err := s.registry(ctx, p)
	if err != nil {
		return model.ModelInfo{}, false, err
	}
	info, err := reg.Model(ctx, name)
	if errors.Is(err, model.ErrModelNotFound) {
		return model.ModelInfo{}, false, nil
	}
	if err != nil {
		return model.ModelInfo{}, false, fmt.Errorf("read model %s: %w", name, err)
	}
	s.infos[name] = info
	return info, true, nil
}

// metricOf is the policy's metric, or the task's default.
func metricOf(name string, task performance.Task) string {
	if name != "" {
		return name
	}
	if task == performance.Regression {
		return performance.MetricRMSE
	}
	return performance.MetricAUC
}

// behind is how far value falls behind baseline in metric's direction.
func behind(metric string, value, baseline float64) float64 {
	if performance.HigherIsBetter(metric) {
		return baseline - value
	}
	return value - baseline
}

// Apply checks the rows (model_performance, just computed) against the
// policies: it moves back the aliases whose version degraded and promotes
// the canaries that held up. An error is transient (the registry or
// ClickHouse did not answer): the caller retries, and an alias already
// moved is not moved again (it no longer points at the version).
func (p *Policy) Apply(ctx context.Context, rows []performance.Row) ([]Action, error) {
	var out []Action
	s := &session{infos: map[string]model.ModelInfo{}, done: map[string]bool{}}
	for _, r := range rows {
		for _, step := range []func(context.Context, *session, performance.Row) (*Action, error){p.rollback, p.promote} {
			a, err := step(ctx, s, r)
			if err != nil {
				return out, err
			}
			if a != nil {
				out = append(out, *a)
				s.done[r.Model+"/"+a.Alias] = true
				delete(s.infos, r.Model)
			}
		}
	}
	return out, nil
}

// rollback moves r's alias back when r's version degraded.
func (p *Policy) rollback(ctx context.Context, s *session, r performance.Row) (*Action, error) {
	mc := p.cfg.Model(r.Model)
	pol := mc.Rollback
	if pol == nil || !slices.Contains(pol.Aliases, r.Route) || r.Labelled < mc.MinLabels || s.done[r.Model+"/"+r.Route] {
		return nil, nil
	}
	metric := metricOf(pol.Metric, r.Task)
	value, ok := r.Get(metric)
	if !ok {
		return nil, nil
	}
	info, ok, err := s.info(ctx, p, r.Model)
	if err != nil || !ok {
		return nil, err
	}
	alias, ok := aliasOf(info, r.Route)
	if !ok || alias.Version != int(r.Version) {
		return nil, nil // moved on since: nothing to roll back
	}
	baseline, source, ok, err := p.baseline(ctx, s.reg, info, alias, pol.Against, metric, r)
	if err != nil {
		return nil, err
	}
	if !ok {
		p.logger.Debug("no baseline for the rollback policy", "model", r.Model, "version", r.Version, "alias", r.Route, "metric", metric, "against", pol.Against)
		return nil, nil
	}
	drop := behind(metric, value, baseline)
	if !(drop > pol.MaxDegradation) {
		return nil, nil
	}
	reason := fmt.Sprintf("monitor: %s %.4g of %s v%d in the %s window from %s (%d labelled) is %.4g worse than %s %.4g (max degradation %.4g)",
		metric, value, r.Route, r.Version, r.Size, r.Start.UTC().Format(time.RFC3339), r.Labelled, drop, source, baseline, pol.MaxDegradation)
	var entry model.AuditEntry
	rev := alias.Revision
	if r.Route == model.AliasProduction {
		entry, err = s.reg.Rollback(ctx, model.RollbackRequest{Model: r.Model, Actor: Actor, Reason: reason})
	} else {
		entry, err = s.reg.DeleteAlias(ctx, model.DeleteAliasRequest{Model: r.Model, Alias: r.Route, Actor: Actor, Reason: reason, ExpectedRevision: &rev})
	}
	switch {
	case errors.Is(err, model.ErrNoRollbackTarget), errors.Is(err, model.ErrConflict), errors.Is(err, model.ErrAliasNotFound):
		// Nothing to go back to, or the alias moved meanwhile: a person or
		// another replica acted; not ours to retry.
		p.logger.Warn("degraded alias not moved back", "model", r.Model, "alias", r.Route, "version", r.Version, "error", err)
		delete(s.infos, r.Model)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("move %s of %s back: %w", r.Route, r.Model, err)
	}
	p.logger.Warn("degraded alias moved back", "model", r.Model, "alias", r.Route, "version", r.Version, "to_version", entry.ToVersion, "reason", reason)
	return &Action{Model: r.Model, Kind: KindRollback, Alias: r.Route, Version: int(r.Version), Reason: reason, Entry: entry}, nil
}

// promote makes the canary's version production when r is a canary row of
// a model with a promotion policy and the canary has held up since it
// moved to its version.
func (p *Policy) promote(ctx context.Context, s *session, r performance.Row) (*Action, error) {
	pol := p.cfg.Model(r.Model).Promotion
	if pol == nil || r.Route != model.AliasCanary || s.done[r.Model+"/"+model.AliasCanary] || s.done[r.Model+"/"+model.AliasProduction] {
		return nil, nil
	}
	metric := metricOf(pol.Metric, r.Task)
	if _, ok := r.Get(metric); !ok {
		return nil, nil
	}
	info, ok, err := s.info(ctx, p, r.Model)
	if err != nil || !ok {
		return nil, err
	}
	canary, ok := aliasOf(info, model.AliasCanary)
	if !ok || canary.Version != int(r.Version) {
		return nil, nil
	}
	prod, ok := aliasOf(info, model.AliasProduction)
	if !ok || prod.Version == canary.Version {
		return nil, nil
	}
	// Both sides over the same time: the windows that end after the
	// canary moved to its version.
	since := canary.MovedAt
	value, n, err := p.figures.Recent(ctx, r.Model, canary.Version, metric, r.Size, since)
	if err != nil {
		return nil, err
	}
	base, m, err := p.figures.Recent(ctx, r.Model, prod.Version, metric, r.Size, since)
	if err != nil {
		return nil, err
	}
	if n < uint64(pol.MinLabels) || m < uint64(pol.MinLabels) {
		return nil, nil
	}
	gap := behind(metric, value, base)
	if !(gap <= pol.MaxDegradation) { // NaN promotes nothing
		p.logger.Debug("canary not promoted", "model", r.Model, "version", canary.Version, "metric", metric, "canary", value, "production", base)
		return nil, nil
	}
	reason := fmt.Sprintf("monitor: canary v%d held up since %s: %s %.4g (%d labelled, %s windows) against production v%d's %.4g (%d labelled), %.4g behind (max degradation %.4g)",
		canary.Version, since.UTC().Format(time.RFC3339), metric, value, n, r.Size, prod.Version, base, m, gap, pol.MaxDegradation)
	prodRev, canaryRev := prod.Revision, canary.Revision
	entry, err := s.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: r.Model, Alias: model.AliasProduction, Version: canary.Version, Actor: Actor, Reason: reason, ExpectedRevision: &prodRev})
	if errors.Is(err, model.ErrConflict) {
		p.logger.Warn("canary not promoted: production moved meanwhile", "model", r.Model, "version", canary.Version, "error", err)
		delete(s.infos, r.Model)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("promote canary v%d of %s: %w", canary.Version, r.Model, err)
	}
	// Production serves the version now: the canary split has nothing left
	// to compare. A canary moved meanwhile is left to whoever moved it.
	_, err = s.reg.DeleteAlias(ctx, model.DeleteAliasRequest{Model: r.Model, Alias: model.AliasCanary, Actor: Actor,
		Reason: fmt.Sprintf("monitor: v%d promoted to production", canary.Version), ExpectedRevision: &canaryRev})
	if err != nil && !errors.Is(err, model.ErrConflict) && !errors.Is(err, model.ErrAliasNotFound) {
		// Production has moved: the next Apply finds production and
		// canary on the same version and leaves them; log and go on.
		p.logger.Warn("promoted canary alias not deleted", "model", r.Model, "version", canary.Version, "error", err)
	}
	p.logger.Info("canary promoted to production", "model", r.Model, "version", canary.Version, "from_version", prod.Version, "reason", reason)
	return &Action{Model: r.Model, Kind: KindPromotion, Alias: model.AliasProduction, Version: canary.Version, Reason: reason, Entry: entry}, nil
}

func aliasOf(info model.ModelInfo, name string) (model.Alias, bool) {
	for _, a := range info.Aliases {
		if a.Name == name {
			return a, true
		}
	}
	return model.Alias{}, false
}

// baseline is the figure the row is compared with: the version's own
// holdout metric, or the previous version's (the version production
// pointed at before, or for a canary the production version) live figures
// over the last Lookback windows with enough labels, else its holdout.
func (p *Policy) baseline(ctx context.Context, reg Registry, info model.ModelInfo, alias model.Alias, against, metric string, r performance.Row) (float64, string, bool, error) {
	holdout := func(version int) (float64, bool, error) {
		v, err := reg.Version(ctx, r.Model, model.VersionRef(strconv.Itoa(version)))
		if errors.Is(err, model.ErrVersionNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("read %s v%d: %w", r.Model, version, err)
		}
		m, ok := v.Lineage.Metrics[metric]
		return m, ok && !math.IsNaN(m), nil
	}
	if against == "holdout" {
		v, ok, err := holdout(int(r.Version))
		return v, fmt.Sprintf("its holdout %s", metric), ok, err
	}
	prev := 0
	if alias.Name == "production" {
		if n := len(alias.Previous); n > 0 {
			prev = alias.Previous[n-1]
		}
	} else if prod, ok := aliasOf(info, "production"); ok && prod.Version != alias.Version {
		prev = prod.Version
	}
	if prev == 0 {
		return 0, "", false, nil
	}
	v, n, err := p.figures.Recent(ctx, r.Model, prev, metric, r.Size, r.End().Add(-Lookback*r.Size))
	if err != nil {
		return 0, "", false, err
	}
	if n >= uint64(p.cfg.Model(r.Model).MinLabels) {
		return v, fmt.Sprintf("v%d's live %s", prev, metric), true, nil
	}
	h, ok, err := holdout(prev)
	return h, fmt.Sprintf("v%d's holdout %s", prev, metric), ok, err
}
