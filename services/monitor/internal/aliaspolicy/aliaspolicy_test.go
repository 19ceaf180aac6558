package aliaspolicy_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/model/registrytest"
	"github.com/tributary-ml/tributary/services/monitor/internal/aliaspolicy"
	"github.com/tributary-ml/tributary/services/monitor/internal/performance"
)

// startRegistry starts an embedded nats-server with JetStream and the real
// registry on it, and returns a client.
func startRegistry(t *testing.T) *model.Client { return registrytest.Start(t).Client }

func register(t *testing.T, c *model.Client, name string, auc float64) model.Version {
	t.Helper()
	ctx := context.Background()
	dist := model.NewNumeric([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 4)
	a, err := c.PutArtifact(ctx, bytes.NewReader([]byte(fmt.Sprintf("model %s auc %v", name, auc))))
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Register(ctx, model.RegisterRequest{Model: name, Format: "linear", Artifact: a, Actor: "test",
		Lineage: model.Lineage{TrainingSetID: "ds", TrainingSetSHA256: strings.Repeat("ab", 32), Features: []string{"v:x"}, Trainer: "test", CodeVersion: "test",
			Metrics: map[string]float64{"auc": auc}, Reference: model.Reference{Features: map[string]model.Distribution{"v:x": dist}, Prediction: dist}, Trigger: event.TriggerManual}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func move(t *testing.T, c *model.Client, name, alias string, version int) {
	t.Helper()
	var w *float64
	if alias == "canary" {
		v := 0.2
		w = &v
	}
	if _, err := c.MoveAlias(context.Background(), model.MoveAliasRequest{Model: name, Alias: alias, Version: version, Weight: w, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

// noFigures: no live figures of any version (the baseline falls back to
// the holdout).
type noFigures struct{}

func (noFigures) Recent(context.Context, string, int, string, time.Duration, time.Time) (float64, uint64, error) {
	return 0, 0, nil
}

// liveFigures answers one version's live auc.
type liveFigures struct {
	version int
	auc     float64
}

func (f liveFigures) Recent(_ context.Context, _ string, version int, metric string, _ time.Duration, _ time.Time) (float64, uint64, error) {
	if version != f.version || metric != "auc" {
		return 0, 0, nil
	}
	return f.auc, 1000, nil
}

func row(name, route string, version int, auc float64, labelled int) performance.Row {
	start := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	return performance.Row{
		Window: performance.Window{Model: name, Start: start, Size: time.Hour}, Key: performance.Key{Version: uint32(version), Route: route},
		Task: performance.Classification, Metrics: performance.Metrics{Labelled: labelled, AUC: &auc},
	}
}

func aliases(t *testing.T, c *model.Client, name string) map[string]int {
	t.Helper()
	info, err := c.Model(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, a := range info.Aliases {
		out[a.Name] = a.Version
	}
	return out
}

// TestPolicyAgainstRegistry applies the rollback policy against the real
// registry: a production version whose live AUC falls further behind its
// holdout than allowed is rolled back (the reason, with the evidence, in
// the audit trail) and not again; a canary behind the production version's
// live figures loses its alias; within the allowance, below the minimum
// sample, on an alias the policy does not watch or on a version the alias
// no longer points at, nothing moves.
func TestPolicyAgainstRegistry(t *testing.T) {
	c := startRegistry(t)
	ctx := context.Background()
	reg := func(context.Context) (aliaspolicy.Registry, error) { return c, nil }
	cfg := &performance.Config{MinLabels: 100, DecisionThreshold: 0.5, Horizon: time.Hour, Models: map[string]performance.ModelConfig{
		"churn": {Rollback: &performance.RollbackConfig{MaxDegradation: 0.05}},
		"fraud": {Rollback: &performance.RollbackConfig{Against: "previous", MaxDegradation: 0.05}},
		"other": {Rollback: &performance.RollbackConfig{Aliases: []string{"canary"}, MaxDegradation: 0.05}},
	}}
	logger := slog.New(slog.DiscardHandler)

	for _, name := range []string{"churn", "other"} {
		register(t, c, name, 0.90)
		register(t, c, name, 0.92)
		move(t, c, name, "production", 1)
		move(t, c, name, "production", 2)
	}
	p := aliaspolicy.New(cfg, reg, noFigures{}, logger)
	for _, tc := range []struct {
		name string
		row  performance.Row
	}{
		{"within the allowance", row("churn", "production", 2, 0.88, 500)},
		{"too few labels", row("churn", "production", 2, 0.5, 99)},
		{"alias not watched", row("other", "production", 2, 0.5, 500)},
		{"not the alias's version", row("churn", "production", 1, 0.5, 500)},
		{"model not configured", row("nope", "production", 1, 0.5, 500)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acts, err := p.Apply(ctx, []performance.Row{tc.row})
			if err != nil || len(acts) != 0 {
				t.Fatalf("Apply = %v, %v; want nothing moved", acts, err)
			}
		})
	}
	if got := aliases(t, c, "churn")["production"]; got != 2 {
		t.Fatalf("production of churn at v%d, want v2 still", got)
	}

	// Degraded beyond the allowance against its own holdout (0.92).
	acts, err := p.Apply(ctx, []performance.Row{row("churn", "production", 2, 0.80, 500), row("churn", "production", 2, 0.70, 500)})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 || acts[0].Alias != "production" || acts[0].Entry.ToVersion != 1 || !acts[0].Entry.Rollback {
		t.Fatalf("actions %+v, want production rolled back to v1 once", acts)
	}
	if got := aliases(t, c, "churn")["production"]; got != 1 {
		t.Fatalf("production of churn at v%d, want v1", got)
	}
	audit, err := c.Audit(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	last := audit[len(audit)-1]
	if last.Actor != aliaspolicy.Actor || !last.Rollback || last.FromVersion != 2 || last.ToVersion != 1 ||
		!strings.Contains(last.Reason, "auc 0.8 of production v2") || !strings.Contains(last.Reason, "its holdout auc 0.92") || !strings.Contains(last.Reason, "500 labelled") {
		t.Errorf("audit entry %+v", last)
	}
	// The same degraded window again (a replay): v2 is no longer
	// production, nothing moves.
	if acts, err := p.Apply(ctx, []performance.Row{row("churn", "production", 2, 0.80, 500)}); err != nil || len(acts) != 0 {
		t.Fatalf("second Apply = %v, %v", acts, err)
	}

	// A canary against the previous version's figures: production v1 has a
	// live auc of 0.85; the canary v2 at 0.82 is within 0.05, at 0.75 not.
	register(t, c, "fraud", 0.80)
	register(t, c, "fraud", 0.95)
	move(t, c, "fraud", "production", 1)
	move(t, c, "fraud", "canary", 2)
	p = aliaspolicy.New(cfg, reg, liveFigures{version: 1, auc: 0.85}, logger)
	if acts, err := p.Apply(ctx, []performance.Row{row("fraud", "canary", 2, 0.82, 500)}); err != nil || len(acts) != 0 {
		t.Fatalf("canary within the allowance: %v, %v", acts, err)
	}
	acts, err = p.Apply(ctx, []performance.Row{row("fraud", "canary", 2, 0.75, 500)})
	if err != nil || len(acts) != 1 || acts[0].Alias != "canary" || !acts[0].Entry.Deleted {
		t.Fatalf("canary degraded: %+v, %v; want the canary alias deleted", acts, err)
	}
	if al := aliases(t, c, "fraud"); al["production"] != 1 || al["canary"] != 0 {
		t.Fatalf("aliases of fraud %v, want production v1 and no canary", al)
	}
	audit, err = c.Audit(ctx, "fraud")
	if err != nil {
		t.Fatal(err)
	}
	if last := audit[len(audit)-1]; !last.Deleted || last.Alias != "canary" || !strings.Contains(last.Reason, "v1's live auc 0.85") {
		t.Errorf("audit entry %+v", last)
	}
}

// versionFigures answers each version's live auc and labelled count, and
// remembers the since of each read.
type versionFigures struct {
	auc   map[int]float64
	n     map[int]uint64
	since []time.Time
}

func (f *versionFigures) Recent(_ context.Context, _ string, version int, metric string, _ time.Duration, since time.Time) (float64, uint64, error) {
	f.since = append(f.since, since)
	if metric != "auc" {
		return 0, 0, nil
	}
	return f.auc[version], f.n[version], nil
}

// TestPromotionAgainstRegistry applies the promotion policy against the
// real registry: a canary whose live AUC since it moved is within the
// allowance of production's over the same time, each side on enough
// labels, becomes production and loses its canary alias, with the evidence
// in the audit trail, once; a canary behind production, on too few labels,
// a production row, a version the canary no longer points at or a model
// without the policy moves nothing; a canary the rollback policy deletes in
// the same call is not promoted.
func TestPromotionAgainstRegistry(t *testing.T) {
	c := startRegistry(t)
	ctx := context.Background()
	reg := func(context.Context) (aliaspolicy.Registry, error) { return c, nil }
	cfg := &performance.Config{MinLabels: 100, DecisionThreshold: 0.5, Horizon: time.Hour, Models: map[string]performance.ModelConfig{
		"cards":   {Promotion: &performance.PromotionConfig{MinLabels: 300, MaxDegradation: 0.01}},
		"plain":   {},
		"guarded": {Promotion: &performance.PromotionConfig{}, Rollback: &performance.RollbackConfig{Aliases: []string{"canary"}, MaxDegradation: 0.05}},
	}}
	logger := slog.New(slog.DiscardHandler)
	for _, name := range []string{"cards", "plain", "guarded"} {
		register(t, c, name, 0.80)
		register(t, c, name, 0.90)
		move(t, c, name, "production", 1)
		move(t, c, name, "canary", 2)
	}

	for _, tc := range []struct {
		name string
		figs *versionFigures
		row  performance.Row
	}{
		{"canary behind", &versionFigures{auc: map[int]float64{1: 0.85, 2: 0.83}, n: map[int]uint64{1: 500, 2: 500}}, row("cards", "canary", 2, 0.83, 500)},
		{"canary on too few labels", &versionFigures{auc: map[int]float64{1: 0.85, 2: 0.9}, n: map[int]uint64{1: 500, 2: 299}}, row("cards", "canary", 2, 0.9, 299)},
		{"production on too few labels", &versionFigures{auc: map[int]float64{1: 0.85, 2: 0.9}, n: map[int]uint64{1: 299, 2: 500}}, row("cards", "canary", 2, 0.9, 500)},
		{"a production row", &versionFigures{auc: map[int]float64{1: 0.85, 2: 0.9}, n: map[int]uint64{1: 500, 2: 500}}, row("cards", "production", 1, 0.85, 500)},
		{"not the canary's version", &versionFigures{auc: map[int]float64{1: 0.85, 2: 0.9}, n: map[int]uint64{1: 500, 2: 500}}, row("cards", "canary", 1, 0.9, 500)},
		{"no promotion policy", &versionFigures{auc: map[int]float64{1: 0.85, 2: 0.9}, n: map[int]uint64{1: 500, 2: 500}}, row("plain", "canary", 2, 0.9, 500)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := aliaspolicy.New(cfg, reg, tc.figs, logger)
			if acts, err := p.Apply(ctx, []performance.Row{tc.row}); err != nil || len(acts) != 0 {
				t.Fatalf("Apply = %+v, %v; want nothing moved", acts, err)
			}
		})
	}
	if al := aliases(t, c, "cards"); al["production"] != 1 || al["canary"] != 2 {
		t.Fatalf("aliases of cards %v, want production v1 and canary v2 still", al)
	}

	// Within the allowance (0.845 against 0.85, 0.01 allowed): promoted,
	// once, both sides read since the canary moved to v2.
	info, err := c.Model(ctx, "cards")
	if err != nil {
		t.Fatal(err)
	}
	var movedAt time.Time
	for _, a := range info.Aliases {
		if a.Name == "canary" {
			movedAt = a.MovedAt
		}
	}
	figs := &versionFigures{auc: map[int]float64{1: 0.85, 2: 0.845}, n: map[int]uint64{1: 500, 2: 400}}
	p := aliaspolicy.New(cfg, reg, figs, logger)
	acts, err := p.Apply(ctx, []performance.Row{row("cards", "canary", 2, 0.845, 400), row("cards", "canary", 2, 0.845, 400)})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 || acts[0].Kind != aliaspolicy.KindPromotion || acts[0].Alias != "production" || acts[0].Version != 2 || acts[0].Entry.ToVersion != 2 {
		t.Fatalf("actions %+v, want production moved to v2 once", acts)
	}
	for _, s := range figs.since {
		if !s.Equal(movedAt) {
			t.Errorf("figures read since %v, want since the canary moved (%v)", s, movedAt)
		}
	}
	if al := aliases(t, c, "cards"); al["production"] != 2 || al["canary"] != 0 {
		t.Fatalf("aliases of cards %v, want production v2 and no canary", al)
	}
	audit, err := c.Audit(ctx, "cards")
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) < 2 {
		t.Fatalf("audit %+v", audit)
	}
	moved, deleted := audit[len(audit)-2], audit[len(audit)-1]
	if moved.Actor != aliaspolicy.Actor || moved.Alias != "production" || moved.FromVersion != 1 || moved.ToVersion != 2 ||
		!strings.Contains(moved.Reason, "canary v2 held up") || !strings.Contains(moved.Reason, "auc 0.845 (400 labelled") || !strings.Contains(moved.Reason, "production v1's 0.85 (500 labelled)") {
		t.Errorf("promotion audit entry %+v", moved)
	}
	if deleted.Actor != aliaspolicy.Actor || deleted.Alias != "canary" || !deleted.Deleted {
		t.Errorf("canary deletion audit entry %+v", deleted)
	}
	// A replay of the window: nothing left to promote.
	if acts, err := p.Apply(ctx, []performance.Row{row("cards", "canary", 2, 0.845, 400)}); err != nil || len(acts) != 0 {
		t.Fatalf("replay: %+v, %v", acts, err)
	}

	// The rollback policy sees the canary degraded against its holdout
	// (0.80 against 0.90) and deletes it: no promotion in the same call,
	// although the canary is level with production.
	figs = &versionFigures{auc: map[int]float64{1: 0.80, 2: 0.80}, n: map[int]uint64{1: 500, 2: 500}}
	acts, err = aliaspolicy.New(cfg, reg, figs, logger).Apply(ctx, []performance.Row{row("guarded", "canary", 2, 0.80, 500)})
	if err != nil || len(acts) != 1 || acts[0].Kind != aliaspolicy.KindRollback || acts[0].Alias != "canary" {
		t.Fatalf("guarded: %+v, %v; want the canary rolled back only", acts, err)
	}
	if al := aliases(t, c, "guarded"); al["production"] != 1 || al["canary"] != 0 {
		t.Fatalf("aliases of guarded %v, want production v1 and no canary", al)
	}
}
