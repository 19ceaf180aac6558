package trainspec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tributary-ml/tributary/libs/featurespec"
)

// ErrInvalid reports a spec that cannot be used; the error names the place.
var ErrInvalid = errors.New("invalid training spec")

// Task is what the model predicts (the names of libs/learn.Task).
type Task string

// Tasks.
const (
	TaskBinary     Task = "binary"
	TaskMulticlass Task = "multiclass"
	TaskRegression Task = "regression"
)

// PolicyKind names a promotion policy.
type PolicyKind string

// Promotion policies.
const (
	// PolicyManual registers the candidate and moves no alias.
	PolicyManual PolicyKind = "manual"
	// PolicyAuto moves production to the candidate when it beats the
	// production model on the same holdout by Margin, or when there is no
	// production model yet.
	PolicyAuto PolicyKind = "auto"
	// PolicyCanary moves the canary alias to the candidate with
	// CanaryWeight; the monitor moves it on.
	PolicyCanary PolicyKind = "canary"
)

// Spec is one model's training spec.
type Spec struct {
	// Model is the model's name in the registry.
	Model       string `yaml:"model" json:"model"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Features are feature references view:feature, in model order.
	Features []string `yaml:"features" json:"features"`
	// Labels is the label stream (event.LabelRecorded.Stream).
	Labels string `yaml:"labels" json:"labels"`
	Task   Task   `yaml:"task" json:"task"`
	// Classes is the number of classes of a multiclass task (3 or more).
	Classes int     `yaml:"classes,omitempty" json:"classes,omitempty"`
	Trainer Trainer `yaml:"trainer" json:"trainer"`
	Seed    int64   `yaml:"seed" json:"seed"`
	// Window is how far back labels are taken, ending at the job's start
	// (e.g. 30d: the last 30 days of labels).
	Window featurespec.Duration `yaml:"window" json:"window"`
	// Holdout is the newest fraction of the labels (by event time) kept
	// out of training to evaluate on, e.g. 0.2; never shuffled into
	// training.
	Holdout float64 `yaml:"holdout" json:"holdout"`
	// Metric decides promotion: auc, log_loss, accuracy, f1 (binary);
	// auc, log_loss, accuracy (multiclass); rmse, mae, r2 (regression).
	Metric    string    `yaml:"metric" json:"metric"`
	Reference Reference `yaml:"reference,omitempty" json:"reference"`
	Policy    Policy    `yaml:"policy" json:"policy"`
	Triggers  Triggers  `yaml:"triggers,omitempty" json:"triggers"`
	// Deadline bounds a whole job (default 1h); a job past it fails.
	Deadline featurespec.Duration `yaml:"deadline,omitempty" json:"deadline,omitempty"`
}

// Trainer says who fits the model.
type Trainer struct {
	// Runner is "go" (the built-in learners), "exec" or "kubernetes".
	Runner string `yaml:"runner" json:"runner"`
	// Name is the runner's trainer: logistic, ridge or gbdt for go; the
	// command's name for exec.
	Name string `yaml:"name" json:"name"`
	// Params are the trainer's parameters, as strings.
	Params map[string]string `yaml:"params,omitempty" json:"params,omitempty"`
	// Command and Image are for the exec and kubernetes runners.
	Command []string `yaml:"command,omitempty" json:"command,omitempty"`
	Image   string   `yaml:"image,omitempty" json:"image,omitempty"`
}

// Reference says how the reference distributions for drift are computed:
// one per feature and one of the prediction, on the training rows.
type Reference struct {
	// Bins is the number of quantile bins of a numeric distribution
	// (default 10).
	Bins int `yaml:"bins,omitempty" json:"bins,omitempty"`
}

// Policy is the promotion policy.
type Policy struct {
	Kind PolicyKind `yaml:"kind" json:"kind"`
	// Margin is how much better than production the candidate must be
	// on the metric (auto), in the metric's units; 0 means any
	// improvement.
	Margin float64 `yaml:"margin,omitempty" json:"margin,omitempty"`
	// CanaryWeight is the canary's share of traffic, 0 < w <= 1 (canary).
	CanaryWeight float64 `yaml:"canary_weight,omitempty" json:"canary_weight,omitempty"`
}

// Triggers are the automatic triggers of a model's jobs (the manual ones
// always work).
type Triggers struct {
	// Schedule is a 5-field cron expression (minute hour day-of-month
	// month day-of-week, UTC).
	Schedule string `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	// NewLabels starts a job once this many labels of the stream arrived
	// since the last job started (0: off).
	NewLabels int64 `yaml:"new_labels,omitempty" json:"new_labels,omitempty"`
	// Drift and Performance start a job on tributary.drift.detected.v1 and
	// tributary.performance.degraded.v1 for the model.
	Drift       bool `yaml:"drift,omitempty" json:"drift,omitempty"`
	Performance bool `yaml:"performance,omitempty" json:"performance,omitempty"`
	// Cooldown is how long after a job of the model was asked for (by any
	// trigger) the alerts (Drift, Performance) start none: the alerts of
	// the windows right after a retraining are about the version it is
	// replacing, and each new version would restart a canary's trial
	// (0: off).
	Cooldown featurespec.Duration `yaml:"cooldown,omitempty" json:"cooldown,omitempty"`
}

// DefaultDeadline is the deadline of a job whose spec sets none.
const DefaultDeadline = time.Hour

// DefaultBins is the number of bins of a numeric reference distribution.
const DefaultBins = 10

// JobDeadline is the spec's deadline or DefaultDeadline.
func (s *Spec) JobDeadline() time.Duration {
	if s.Deadline > 0 {
		return time.Duration(s.Deadline)
	}
	return DefaultDeadline
}

// Bins is the reference's bin count or DefaultBins.
func (s *Spec) Bins() int {
	if s.Reference.Bins > 0 {
		return s.Reference.Bins
	}
	return DefaultBins
}

// HigherIsBetter reports whether a larger value of the metric is better.
func HigherIsBetter(metric string) bool {
	switch metric {
	case "log_loss", "rmse", "mae":
		return false
	}
	return true
}

// metrics lists the metrics of each task.
var metrics = map[Task][]string{
	TaskBinary:     {"auc", "log_loss", "accuracy", "f1"},
	TaskMulticlass: {"auc", "log_loss", "accuracy"},
	TaskRegression: {"rmse", "mae", "r2"},
}

// Metrics returns the metric names of a task.
func Metrics(t Task) []string { return slices.Clone(metrics[t]) }

// Runners and their trainers that Parse accepts.
var (
	runners    = []string{"go", "exec", "kubernetes"}
	goTrainers = map[string][]Task{
		"logistic": {TaskBinary, TaskMulticlass},
		"ridge":    {TaskRegression},
		"gbdt":     {TaskBinary, TaskMulticlass, TaskRegression},
	}
)

var (
	namePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	refPattern   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}:[A-Za-z][A-Za-z0-9_]{0,127}$`)
	paramPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)
)

// Parse decodes one YAML spec (unknown fields are errors) and checks it.
// Errors wrap ErrInvalid and name the place.
func Parse(b []byte) (*Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty file", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrInvalid)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate checks the spec on its own.
func (s *Spec) Validate() error {
	place := "spec"
	if s.Model != "" {
		place = "spec " + s.Model
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s: %s", ErrInvalid, place, field, fmt.Sprintf(format, args...))
	}
	if !namePattern.MatchString(s.Model) {
		return bad("model", "%q: want 1 to 64 letters, digits, '_' or '-', starting with a letter or digit", s.Model)
	}
	if len(s.Features) == 0 {
		return bad("features", "at least one feature reference view:feature is required")
	}
	seen := map[string]bool{}
	for i, f := range s.Features {
		if !refPattern.MatchString(f) {
			return bad(fmt.Sprintf("features[%d]", i), "%q is not a feature reference view:feature", f)
		}
		if seen[f] {
			return bad(fmt.Sprintf("features[%d]", i), "%q is listed twice", f)
		}
		seen[f] = true
	}
	if !namePattern.MatchString(s.Labels) {
		return bad("labels", "%q: want the name of a label stream", s.Labels)
	}
	ms, ok := metrics[s.Task]
	if !ok {
		return bad("task", "%q: want binary, multiclass or regression", s.Task)
	}
	switch {
	case s.Task == TaskMulticlass && (s.Classes < 3 || s.Classes > 1000):
		return bad("classes", "%d: a multiclass task needs 3 to 1000 classes", s.Classes)
	case s.Task != TaskMulticlass && s.Classes != 0:
		return bad("classes", "only a multiclass task has classes")
	}
	if err := s.Trainer.validate(s.Task, func(f, format string, args ...any) error {
		return bad("trainer."+f, format, args...)
	}); err != nil {
		return err
	}
	if s.Window <= 0 {
		return bad("window", "required: how far back labels are taken (e.g. 30d)")
	}
	if !(s.Holdout > 0 && s.Holdout < 1) {
		return bad("holdout", "%v: want the newest fraction of labels kept out, between 0 and 1 (e.g. 0.2)", s.Holdout)
	}
	if !slices.Contains(ms, s.Metric) {
		return bad("metric", "%q: want one of %v for a %s task", s.Metric, ms, s.Task)
	}
	if s.Reference.Bins < 0 || s.Reference.Bins > 1000 {
		return bad("reference.bins", "%d: want 1 to 1000 (0: %d)", s.Reference.Bins, DefaultBins)
	}
	p := s.Policy
	switch p.Kind {
	case PolicyManual, PolicyAuto, PolicyCanary:
	default:
		return bad("policy.kind", "%q: want manual, auto or canary", p.Kind)
	}
	if math.IsNaN(p.Margin) || math.IsInf(p.Margin, 0) || p.Margin < 0 {
		return bad("policy.margin", "%v: want a finite number >= 0", p.Margin)
	}
	if p.Kind != PolicyAuto && p.Margin != 0 {
		return bad("policy.margin", "only the auto policy has a margin")
	}
	switch {
	case p.Kind == PolicyCanary && !(p.CanaryWeight > 0 && p.CanaryWeight <= 1):
		return bad("policy.canary_weight", "%v: the canary policy needs a weight, 0 < w <= 1", p.CanaryWeight)
	case p.Kind != PolicyCanary && p.CanaryWeight != 0:
		return bad("policy.canary_weight", "only the canary policy has a weight")
	}
	if s.Triggers.Schedule != "" {
		if _, err := ParseCron(s.Triggers.Schedule); err != nil {
			return bad("triggers.schedule", "%v", err)
		}
	}
	if s.Triggers.NewLabels < 0 {
		return bad("triggers.new_labels", "%d: want 0 (off) or more", s.Triggers.NewLabels)
	}
	if s.Triggers.Cooldown < 0 {
		return bad("triggers.cooldown", "must not be negative")
	}
	if s.Deadline < 0 {
		return bad("deadline", "must not be negative")
	}
	return nil
}

func (t Trainer) validate(task Task, bad func(field, format string, args ...any) error) error {
	if !slices.Contains(runners, t.Runner) {
		return bad("runner", "%q: want one of %v", t.Runner, runners)
	}
	if !namePattern.MatchString(t.Name) {
		return bad("name", "%q: want the trainer's name", t.Name)
	}
	for k := range t.Params {
		if !paramPattern.MatchString(k) {
			return bad("params", "%q is not a parameter name", k)
		}
	}
	switch t.Runner {
	case "go":
		tasks, ok := goTrainers[t.Name]
		if !ok {
			return bad("name", "%q: the go runner has %v", t.Name, sortedKeys(goTrainers))
		}
		if !slices.Contains(tasks, task) {
			return bad("name", "%s does not learn a %s task (it learns %v)", t.Name, task, tasks)
		}
		if len(t.Command) > 0 || t.Image != "" {
			return bad("command", "the go runner takes no command or image")
		}
		for k, v := range t.Params {
			if err := checkGoParam(t.Name, k, v); err != nil {
				return bad("params."+k, "%v", err)
			}
		}
	case "exec":
		if len(t.Command) == 0 {
			return bad("command", "the exec runner needs a command")
		}
	case "kubernetes":
		if t.Image == "" {
			return bad("image", "the kubernetes runner needs an image")
		}
	}
	return nil
}

// paramKind is how a built-in learner's parameter is written.
type paramKind int

const (
	paramFloat paramKind = iota
	paramInt
	paramEarlyStopping // auto, on or off
)

// goParams lists the parameters of the built-in learners (the names of
// their configs' JSON fields), and max_categories, the go runner's cap on
// the vocabulary of a string feature.
var goParams = map[string]map[string]paramKind{
	"logistic": {"c": paramFloat, "max_iter": paramInt, "tol": paramFloat, "max_categories": paramInt},
	"ridge":    {"alpha": paramFloat, "max_categories": paramInt},
	"gbdt": {"max_categories": paramInt, "max_iter": paramInt, "learning_rate": paramFloat, "max_leaves": paramInt, "max_depth": paramInt,
		"min_samples_leaf": paramInt, "l2": paramFloat, "max_bins": paramInt, "early_stopping": paramEarlyStopping,
		"validation_fraction": paramFloat, "n_iter_no_change": paramInt, "tol": paramFloat},
}

func checkGoParam(trainer, k, v string) error {
	kind, ok := goParams[trainer][k]
	if !ok {
		return fmt.Errorf("unknown parameter of %s (it has %v)", trainer, sortedKeys(goParams[trainer]))
	}
	switch kind {
	case paramInt:
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
	case paramEarlyStopping:
		if v != "auto" && v != "on" && v != "off" {
			return fmt.Errorf("%q: want auto, on or off", v)
		}
	default:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a finite number", v)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Version is the hex sha256 of the spec's canonical JSON: two specs with the
// same content have the same version, however their YAML is written.
func (s *Spec) Version() string {
	b, _ := json.Marshal(s) // struct of plain values: cannot fail
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Views returns the feature views the spec reads, sorted.
func (s *Spec) Views() []string {
	var out []string
	for _, f := range s.Features {
		v, _, _ := strings.Cut(f, ":")
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}
