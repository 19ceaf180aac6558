package performance_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/services/monitor/internal/performance"
)

func TestParseModels(t *testing.T) {
	for _, tc := range []struct {
		name, file, wantErr string
	}{
		{"good", `{"models": {"churn": {"task": "classification", "label_stream": "churned", "horizon": "2h", "min": {"auc": 0.7}, "max": {"log_loss": 0.6},
			"fairness": {"attribute": "req:region"}, "rollback": {"aliases": ["canary"], "metric": "auc", "against": "previous", "max_degradation": 0.05},
			"promotion": {"metric": "f1", "min_labels": 500, "max_degradation": 0.01}}}}`, ""},
		{"unknown field", `{"models": {"churn": {"tsk": "classification"}}}`, "unknown field"},
		{"bad model name", `{"models": {"no.dots": {}}}`, "model"},
		{"bad task", `{"models": {"churn": {"task": "ranking"}}}`, "task"},
		{"bad horizon", `{"models": {"churn": {"horizon": "soon"}}}`, "duration"},
		{"min of a lower-is-better metric", `{"models": {"churn": {"min": {"rmse": 1}}}}`, "min"},
		{"max of a higher-is-better metric", `{"models": {"churn": {"max": {"auc": 1}}}}`, "max"},
		{"fairness without attribute", `{"models": {"churn": {"fairness": {}}}}`, "attribute"},
		{"fairness threshold out of range", `{"models": {"churn": {"fairness": {"attribute": "a:b", "max_equalized_odds_difference": 2}}}}`, "threshold"},
		{"rollback of shadow", `{"models": {"churn": {"rollback": {"aliases": ["shadow"]}}}}`, "alias"},
		{"rollback against what", `{"models": {"churn": {"rollback": {"against": "yesterday"}}}}`, "against"},
		{"rollback negative", `{"models": {"churn": {"rollback": {"max_degradation": -1}}}}`, "negative"},
		{"promotion metric", `{"models": {"churn": {"promotion": {"metric": "lift"}}}}`, "promotion: unknown metric"},
		{"promotion negative", `{"models": {"churn": {"promotion": {"max_degradation": -0.1}}}}`, "promotion: max_degradation"},
		{"promotion negative labels", `{"models": {"churn": {"promotion": {"min_labels": -1}}}}`, "promotion: min_labels"},
		{"decision threshold", `{"models": {"churn": {"decision_threshold": 1.5}}}`, "decision_threshold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := performance.ParseModels([]byte(tc.file))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("ParseModels: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("ParseModels = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestModelDefaults(t *testing.T) {
	models, err := performance.ParseModels([]byte(`{"models": {"churn": {"label_stream": "churned", "fairness": {"attribute": "a:b"}, "rollback": {"max_degradation": 0.1}}, "fraud": {"horizon": "5m", "min_labels": 7, "promotion": {}, "decision_threshold": 0.3, "label_stream": "churned"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := performance.Config{MinLabels: 100, DecisionThreshold: 0.5, Horizon: time.Hour, Models: models}
	c := cfg.Model("churn")
	if time.Duration(c.Horizon) != time.Hour || *c.DecisionThreshold != 0.5 || c.MinLabels != 100 || *c.Fairness.MaxDemographicParity != 0.1 ||
		*c.Fairness.MaxEqualizedOdds != 0.1 || strings.Join(c.Rollback.Aliases, ",") != "canary,production" || c.Rollback.Against != "holdout" {
		t.Errorf("churn defaults %+v", c)
	}
	f := cfg.Model("fraud")
	if time.Duration(f.Horizon) != 5*time.Minute || f.MinLabels != 7 || *f.DecisionThreshold != 0.3 || f.Fairness != nil || f.Rollback != nil {
		t.Errorf("fraud %+v", f)
	}
	if f.Promotion == nil || f.Promotion.MinLabels != 7 || c.Promotion != nil {
		t.Errorf("promotion of fraud %+v (want min_labels 7 from the model), of churn %+v (want none)", f.Promotion, c.Promotion)
	}
	if got := cfg.StreamModels("churned"); strings.Join(got, ",") != "churn,fraud" {
		t.Errorf("StreamModels = %v", got)
	}
	if u := cfg.Model("unknown"); u.MinLabels != 100 || time.Duration(u.Horizon) != time.Hour {
		t.Errorf("unknown model %+v", u)
	}
}
