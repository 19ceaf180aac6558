package performance

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tributary-ml/tributary/libs/model"
)

// Config configures the performance and fairness computation.
type Config struct {
	// Sizes are the tumbling window lengths of prediction time.
	Sizes []time.Duration
	// MinLabels is the labelled predictions a window needs before a
	// breach (performance, fairness, rollback) is declared.
	MinLabels int
	// DecisionThreshold is the default score at or above which a
	// classifier's prediction is positive.
	DecisionThreshold float64
	// Horizon is the default horizon of the join by entity.
	Horizon time.Duration
	// ModelsFile is the per-model configuration file (JSON); Models is
	// what Validate read from it.
	ModelsFile string
	Models     map[string]ModelConfig
}

// ModelConfig is the configuration of one model, from -performance.models.
type ModelConfig struct {
	// Task is classification or regression; empty: classification when
	// every label of the window is 0 or 1 and every prediction in [0, 1].
	Task Task `json:"task,omitempty"`
	// LabelStream is the label stream whose labels without a
	// prediction_id are joined with this model's predictions by entity.
	LabelStream string `json:"label_stream,omitempty"`
	// Horizon: a label without prediction_id judges the latest prediction
	// per version and route of its entity in [label time - Horizon,
	// label time]; default -performance.horizon.
	Horizon Duration `json:"horizon,omitempty"`
	// DecisionThreshold overrides -performance.decision-threshold.
	DecisionThreshold *float64 `json:"decision_threshold,omitempty"`
	// MinLabels overrides -performance.min-labels.
	MinLabels int `json:"min_labels,omitempty"`
	// Min and Max are the thresholds: a metric below its Min (accuracy,
	// precision, recall, f1, auc) or above its Max (log_loss, mae, rmse) in
	// a window is a breach.
	Min map[string]float64 `json:"min,omitempty"`
	Max map[string]float64 `json:"max,omitempty"`
	// Fairness, when set, computes fairness_metrics for an attribute.
	Fairness *FairnessConfig `json:"fairness,omitempty"`
	// Rollback, when set, moves a degraded canary or production back.
	Rollback *RollbackConfig `json:"rollback,omitempty"`
	// Promotion, when set, makes the canary's version production once it
	// has held up live.
	Promotion *PromotionConfig `json:"promotion,omitempty"`
}

// FairnessConfig names the sensitive attribute and its thresholds.
type FairnessConfig struct {
	// Attribute is a feature reference of the prediction's features
	// (view:feature, or a request field that serving logs among them).
	Attribute string `json:"attribute"`
	// MaxDemographicParity and MaxEqualizedOdds are the largest
	// differences allowed (default 0.1 each: the "80%"-style tolerance
	// commonly used with fairlearn).
	MaxDemographicParity *float64 `json:"max_demographic_parity_difference,omitempty"`
	MaxEqualizedOdds     *float64 `json:"max_equalized_odds_difference,omitempty"`
}

// RollbackConfig is the rollback policy of a model.
type RollbackConfig struct {
	// Aliases are those the policy watches: canary, production (default
	// both).
	Aliases []string `json:"aliases,omitempty"`
	// Metric is compared (default auc for classifiers, rmse for
	// regressors).
	Metric string `json:"metric,omitempty"`
	// Against is holdout (the version's own holdout metric in its
	// lineage) or previous (the version the alias pointed at before: its
	// figures in model_performance, else its holdout metric).
	Against string `json:"against,omitempty"`
	// MaxDegradation is how far the metric may fall behind the baseline
	// (an absolute difference, in the metric's unit) before the alias is
	// moved back.
	MaxDegradation float64 `json:"max_degradation"`
}

// PromotionConfig is the promotion policy of a model: the version under
// the canary alias becomes production once, since the canary moved to it,
// its labelled predictions and production's each number at least
// MinLabels, and its metric is not behind production's by more than
// MaxDegradation.
type PromotionConfig struct {
	// Metric is compared (default auc for classifiers, rmse for
	// regressors).
	Metric string `json:"metric,omitempty"`
	// MinLabels is the labelled predictions each side needs (default the
	// model's min_labels).
	MinLabels int `json:"min_labels,omitempty"`
	// MaxDegradation is how far the canary's metric may be behind
	// production's (absolute, in the metric's unit; default 0: at least as
	// good).
	MaxDegradation float64 `json:"max_degradation"`
}

// Duration is a time.Duration written as "90m" in JSON.
type Duration time.Duration

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// RegisterFlags registers the flags under "performance.".
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Sizes = []time.Duration{time.Hour, 24 * time.Hour}
	fs.Func("performance.windows", "Comma-separated tumbling window lengths of prediction time that performance and fairness are computed over (default 1h,24h).", func(s string) error {
		var sizes []time.Duration
		for _, p := range strings.Split(s, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(p))
			if err != nil {
				return err
			}
			sizes = append(sizes, d)
		}
		c.Sizes = sizes
		return nil
	})
	fs.IntVar(&c.MinLabels, "performance.min-labels", 100, "Labelled predictions a window needs before a performance or fairness breach is alerted or a rollback is made (a model's min_labels overrides it).")
	fs.Float64Var(&c.DecisionThreshold, "performance.decision-threshold", 0.5, "Score at or above which a classifier's prediction counts as positive (a model's decision_threshold overrides it).")
	fs.DurationVar(&c.Horizon, "performance.horizon", 24*time.Hour, "How far before a label's time a prediction of its entity may be and still be judged by a label without prediction_id (a model's horizon overrides it).")
	fs.StringVar(&c.ModelsFile, "performance.models", "", "JSON file of per-model settings: task, label_stream, horizon, decision_threshold, min_labels, min/max thresholds, fairness, rollback, promotion (see the README).")
}

// Validate checks the configuration and reads the models file.
func (c *Config) Validate() error {
	if len(c.Sizes) == 0 {
		return errors.New("performance.windows: none")
	}
	for _, s := range c.Sizes {
		if s < time.Second || s%time.Second != 0 {
			return fmt.Errorf("performance.windows: %v is not a positive whole number of seconds", s)
		}
	}
	if c.MinLabels < 1 {
		return fmt.Errorf("performance.min-labels: %d is not positive", c.MinLabels)
	}
	if !(c.DecisionThreshold >= 0 && c.DecisionThreshold <= 1) {
		return fmt.Errorf("performance.decision-threshold: %v is not in [0, 1]", c.DecisionThreshold)
	}
	if c.Horizon <= 0 {
		return fmt.Errorf("performance.horizon: %v is not positive", c.Horizon)
	}
	if c.ModelsFile == "" {
		return nil
	}
	b, err := os.ReadFile(c.ModelsFile)
	if err != nil {
		return fmt.Errorf("performance.models: %w", err)
	}
	models, err := ParseModels(b)
	if err != nil {
		return fmt.Errorf("performance.models: %s: %w", c.ModelsFile, err)
	}
	c.Models = models
	return nil
}

// ParseModels reads and checks a models file: {"models": {"<name>": {...}}}.
func ParseModels(b []byte) (map[string]ModelConfig, error) {
	var f struct {
		Models map[string]ModelConfig `json:"models"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	for name, m := range f.Models {
		if err := model.ValidateName("model", name); err != nil {
			return nil, err
		}
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("model %s: %w", name, err)
		}
	}
	return f.Models, nil
}

func (m ModelConfig) validate() error {
	switch m.Task {
	case "", Classification, Regression:
	default:
		return fmt.Errorf("task %q: not classification or regression", m.Task)
	}
	if m.Horizon < 0 || m.MinLabels < 0 {
		return errors.New("negative horizon or min_labels")
	}
	if t := m.DecisionThreshold; t != nil && !(*t >= 0 && *t <= 1) {
		return fmt.Errorf("decision_threshold %v: not in [0, 1]", *t)
	}
	for name := range m.Min {
		if !slices.Contains(MetricNames, name) || !HigherIsBetter(name) {
			return fmt.Errorf("min: %q is not one of accuracy, precision, recall, f1, auc", name)
		}
	}
	for name := range m.Max {
		if !slices.Contains(MetricNames, name) || HigherIsBetter(name) {
			return fmt.Errorf("max: %q is not one of log_loss, mae, rmse", name)
		}
	}
	if f := m.Fairness; f != nil {
		if f.Attribute == "" {
			return errors.New("fairness: no attribute")
		}
		for _, v := range []*float64{f.MaxDemographicParity, f.MaxEqualizedOdds} {
			if v != nil && !(*v >= 0 && *v <= 1) {
				return fmt.Errorf("fairness: threshold %v not in [0, 1]", *v)
			}
		}
	}
	if r := m.Rollback; r != nil {
		for _, a := range r.Aliases {
			if a != "canary" && a != "production" {
				return fmt.Errorf("rollback: alias %q is not canary or production", a)
			}
		}
		if r.Metric != "" && !slices.Contains(MetricNames, r.Metric) {
			return fmt.Errorf("rollback: unknown metric %q", r.Metric)
		}
		if r.Against != "" && r.Against != "holdout" && r.Against != "previous" {
			return fmt.Errorf("rollback: against %q is not holdout or previous", r.Against)
		}
		if !(r.MaxDegradation >= 0) {
			return fmt.Errorf("rollback: max_degradation %v is negative", r.MaxDegradation)
		}
	}
	if p := m.Promotion; p != nil {
		if p.Metric != "" && !slices.Contains(MetricNames, p.Metric) {
			return fmt.Errorf("promotion: unknown metric %q", p.Metric)
		}
		if p.MinLabels < 0 {
			return fmt.Errorf("promotion: min_labels %d is negative", p.MinLabels)
		}
		if !(p.MaxDegradation >= 0) {
			return fmt.Errorf("promotion: max_degradation %v is negative", p.MaxDegradation)
		}
	}
	return nil
}

// Model returns the settings of a model (the zero value for a model the
// file does not name), with the defaults filled in.
func (c *Config) Model(name string) ModelConfig {
	m := c.Models[name]
	if m.Horizon == 0 {
		m.Horizon = Duration(c.Horizon)
	}
	if m.DecisionThreshold == nil {
		t := c.DecisionThreshold
		m.DecisionThreshold = &t
	}
	if m.MinLabels == 0 {
		m.MinLabels = c.MinLabels
	}
	if f := m.Fairness; f != nil {
		g := *f
		def := 0.1
		if g.MaxDemographicParity == nil {
			g.MaxDemographicParity = &def
		}
		if g.MaxEqualizedOdds == nil {
			g.MaxEqualizedOdds = &def
		}
		m.Fairness = &g
	}
	if r := m.Rollback; r != nil {
		g := *r
		if len(g.Aliases) == 0 {
			g.Aliases = []string{"canary", "production"}
		}
		if g.Against == "" {
			g.Against = "holdout"
		}
		m.Rollback = &g
	}
	if p := m.Promotion; p != nil {
		g := *p
		if g.MinLabels == 0 {
			g.MinLabels = m.MinLabels
		}
		m.Promotion = &g
	}
	return m
}

// StreamModels are the models whose label_stream is stream, sorted.
func (c *Config) StreamModels(stream string) []string {
	var out []string
	for name, m := range c.Models {
		if m.LabelStream == stream {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
