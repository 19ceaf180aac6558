// Package rollback is the monitor's rollback policy: when the version under
// a model's canary or production alias degrades in a window (its metric
// falls behind its own holdout figure, or the previous version's, by more
// than the policy allows, on at least the minimum sample of labels), it
// moves the alias back through the registry, with the evidence as the
// reason in the audit trail: production with the registry's rollback (to
// the version it pointed at before), canary by deleting the alias (its
// traffic goes back to production), conditional on the alias's revision.
package rollback

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
	DeleteAlias(ctx context.Context, req model.DeleteAliasRequest) (model.AuditEntry, error)
}

// Figures reads a version's recent live figures (performance.Store).
type Figures interface {
	Recent(ctx context.Context, model string, version int, metric string, size time.Duration, since time.Time) (float64, uint64, error)
}

// Policy applies the models' rollback settings.
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

// Action is an alias moved back.
type Action struct {
	Model   string
	Alias   string
	Version int
	Reason  string
	Entry   model.AuditEntry
}

// Lookback is how many windows of the row's size the previous version's
// live figures are averaged over.
const Lookback = 24

// Apply checks the rows (model_performance, just computed) against the
// policies and moves back the aliases whose version degraded. An error is
// transient (the registry or ClickHouse did not answer): the caller retries,
// and an alias already moved is not moved again (it no longer points at the
// version).
func (p *Policy) Apply(ctx context.Context, rows []performance.Row) ([]Action, error) {
	var out []Action
	var reg Registry
	infos := map[string]model.ModelInfo{}
	done := map[string]bool{} // model/alias moved in this call
	for _, r := range rows {
		mc := p.cfg.Model(r.Model)
		pol := mc.Rollback
		if pol == nil || !slices.Contains(pol.Aliases, r.Route) || r.Labelled < mc.MinLabels || done[r.Model+"/"+r.Route] {
			continue
		}
		metric := pol.Metric
		if metric == "" {
			metric = performance.MetricAUC
			if r.Task == performance.Regression {
				metric = performance.MetricRMSE
			}
		}
		value, ok := r.Get(metric)
		if !ok {
			continue
		}
		if reg == nil {
			var err error
			if reg, err = p.registry(ctx); err != nil {
				return out, err
			}
		}
		info, ok := infos[r.Model]
		if !ok {
			var err error
			info, err = reg.Model(ctx, r.Model)
			if errors.Is(err, model.ErrModelNotFound) {
				continue
			}
			if err != nil {
				return out, fmt.Errorf("read model %s: %w", r.Model, err)
			}
			infos[r.Model] = info
		}
		alias, ok := aliasOf(info, r.Route)
		if !ok || alias.Version != int(r.Version) {
			continue // moved on since: nothing to roll back
		}
		baseline, source, ok, err := p.baseline(ctx, reg, info, alias, pol.Against, metric, r)
		if err != nil {
			return out, err
		}
		if !ok {
			p.logger.Debug("no baseline for the rollback policy", "model", r.Model, "version", r.Version, "alias", r.Route, "metric", metric, "against", pol.Against)
			continue
		}
		drop := baseline - value
		if !performance.HigherIsBetter(metric) {
			drop = value - baseline
		}
		if !(drop > pol.MaxDegradation) {
			continue
		}
		reason := fmt.Sprintf("monitor: %s %.4g of %s v%d in the %s window from %s (%d labelled) is %.4g worse than %s %.4g (max degradation %.4g)",
			metric, value, r.Route, r.Version, r.Size, r.Start.UTC().Format(time.RFC3339), r.Labelled, drop, source, baseline, pol.MaxDegradation)
		var entry model.AuditEntry
		if r.Route == "production" {
			entry, err = reg.Rollback(ctx, model.RollbackRequest{Model: r.Model, Actor: Actor, Reason: reason})
		} else {
			rev := alias.Revision
			entry, err = reg.DeleteAlias(ctx, model.DeleteAliasRequest{Model: r.Model, Alias: r.Route, Actor: Actor, Reason: reason, ExpectedRevision: &rev})
		}
		switch {
		case errors.Is(err, model.ErrNoRollbackTarget), errors.Is(err, model.ErrConflict), errors.Is(err, model.ErrAliasNotFound):
			// Nothing to go back to, or the alias moved meanwhile: a
			// person or another replica acted; not ours to retry.
			p.logger.Warn("degraded alias not moved back", "model", r.Model, "alias", r.Route, "version", r.Version, "error", err)
			delete(infos, r.Model)
			continue
		case err != nil:
			return out, fmt.Errorf("move %s of %s back: %w", r.Route, r.Model, err)
		}
		p.logger.Warn("degraded alias moved back", "model", r.Model, "alias", r.Route, "version", r.Version, "to_version", entry.ToVersion, "reason", reason)
		out = append(out, Action{Model: r.Model, Alias: r.Route, Version: int(r.Version), Reason: reason, Entry: entry})
		done[r.Model+"/"+r.Route] = true
		delete(infos, r.Model)
	}
	return out, nil
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
