package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/policy"
)

func TestDecide(t *testing.T) {
	auto := trainspec.Policy{Kind: trainspec.PolicyAuto, Margin: 0.01}
	cases := []struct {
		name       string
		in         policy.Input
		action     string
		alias      string
		reason     string
		production bool
	}{
		{"manual", policy.Input{Policy: trainspec.Policy{Kind: trainspec.PolicyManual}, Metric: "auc", Candidate: map[string]float64{"auc": 0.9}, ProductionVersion: 1, Production: map[string]float64{"auc": 0.5}},
			"none", "", "manual policy", true},
		{"auto, no production", policy.Input{Policy: auto, Metric: "auc", Candidate: map[string]float64{"auc": 0.6}},
			"promote", "production", "no production version yet", false},
		{"auto, beats by the margin", policy.Input{Policy: auto, Metric: "auc", Candidate: map[string]float64{"auc": 0.85}, ProductionVersion: 3, Production: map[string]float64{"auc": 0.80}},
			"promote", "production", "auc 0.85 beats production version 3's 0.8 by 0.05", true},
		{"auto, better but under the margin", policy.Input{Policy: auto, Metric: "auc", Candidate: map[string]float64{"auc": 0.805}, ProductionVersion: 3, Production: map[string]float64{"auc": 0.80}},
			"none", "", "does not beat production version 3's 0.8 by the margin 0.01", true},
		{"auto, worse", policy.Input{Policy: auto, Metric: "auc", Candidate: map[string]float64{"auc": 0.7}, ProductionVersion: 3, Production: map[string]float64{"auc": 0.80}},
			"none", "", "gain -0.1", true},
		{"auto, lower is better", policy.Input{Policy: trainspec.Policy{Kind: trainspec.PolicyAuto}, Metric: "rmse", Candidate: map[string]float64{"rmse": 1.5}, ProductionVersion: 2, Production: map[string]float64{"rmse": 2}},
			"promote", "production", "by 0.5", true},
		{"auto, lower is better, worse", policy.Input{Policy: trainspec.Policy{Kind: trainspec.PolicyAuto}, Metric: "log_loss", Candidate: map[string]float64{"log_loss": 0.5}, ProductionVersion: 2, Production: map[string]float64{"log_loss": 0.4}},
			"none", "", "does not beat", true},
		{"auto, equal, margin 0", policy.Input{Policy: trainspec.Policy{Kind: trainspec.PolicyAuto}, Metric: "auc", Candidate: map[string]float64{"auc": 0.8}, ProductionVersion: 2, Production: map[string]float64{"auc": 0.8}},
			"none", "", "does not beat", true},
		{"auto, production not evaluable", policy.Input{Policy: auto, Metric: "auc", Candidate: map[string]float64{"auc": 0.9}, ProductionVersion: 4, ProductionNote: "format lightgbm"},
			"none", "", "production version 4 could not be evaluated on the holdout: format lightgbm", false},
		{"canary", policy.Input{Policy: trainspec.Policy{Kind: trainspec.PolicyCanary, CanaryWeight: 0.1}, Metric: "auc", Candidate: map[string]float64{"auc": 0.6}, ProductionVersion: 1, Production: map[string]float64{"auc": 0.9}},
			"canary", "canary", "canary at weight 0.1", true},
		{"canary, no production yet", policy.Input{Policy: trainspec.Policy{Kind: trainspec.PolicyCanary, CanaryWeight: 0.1}, Metric: "auc", Candidate: map[string]float64{"auc": 0.6}},
			"promote", "production", "no production version yet, so the first version is production", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.in.At = time.Unix(1e9, 0)
			d := policy.Decide(c.in)
			if d.Action != c.action || d.Alias != c.alias || !strings.Contains(d.Reason, c.reason) {
				t.Errorf("decision %+v, want action %s alias %q reason containing %q", d, c.action, c.alias, c.reason)
			}
			if (d.Production != nil) != c.production {
				t.Errorf("production figure %v, want present %v", d.Production, c.production)
			}
			if d.Candidate != c.in.Candidate[c.in.Metric] || d.Metric != c.in.Metric || d.Policy != string(c.in.Policy.Kind) {
				t.Errorf("figures %+v", d)
			}
			if c.action == "canary" && (d.Weight == nil || *d.Weight != 0.1) {
				t.Errorf("canary weight %v", d.Weight)
			}
		})
	}
}
