package linear

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"

	"github.com/tributary-ml/tributary/libs/learn"
)

// KindLogistic is the model file kind of a logistic regression.
const KindLogistic = "logistic"

// LogisticConfig sets up logistic regression. The zero value is valid and
// means scikit-learn's defaults (C=1, lbfgs, tol=1e-4, max_iter=100).
type LogisticConfig struct {
	// C is the inverse strength of the L2 penalty, as scikit-learn's C:
	// training minimizes C·Σ log loss + ½‖w‖² over the coefficients w of
	// the standardized features (the intercepts are not penalized).
	// 0 means 1.
	C float64 `json:"c"`
	// MaxIter bounds the L-BFGS iterations; 0 means 100.
	MaxIter int `json:"max_iter"`
	// Tol stops L-BFGS once the largest gradient component of the mean
	// objective (the objective above divided by C·rows) is below it;
	// 0 means 1e-4.
	Tol float64 `json:"tol"`
	// Workers is the number of goroutines that evaluate the objective;
	// 0 means GOMAXPROCS. The model does not depend on it.
	Workers int `json:"-"`
}

func (c LogisticConfig) withDefaults() (LogisticConfig, error) {
	if c.C == 0 {
		c.C = 1
	}
	if c.MaxIter == 0 {
		c.MaxIter = 100
	}
	if c.Tol == 0 {
		c.Tol = 1e-4
	}
	switch {
	case !(c.C > 0) || math.IsInf(c.C, 0):
		return c, learn.NewDataError(learn.ReasonBadParam, "C is %v, want a finite number > 0", c.C)
	case c.MaxIter < 0:
		return c, learn.NewDataError(learn.ReasonBadParam, "max_iter is %d, want > 0", c.MaxIter)
	case !(c.Tol > 0):
		return c, learn.NewDataError(learn.ReasonBadParam, "tol is %v, want > 0", c.Tol)
	}
	c.Workers = defaultWorkers(c.Workers)
	return c, nil
}

// Logistic is a trained logistic regression. For a binary task it predicts
// P(y=1) = σ(b + w·z), for a multiclass task the softmax of K linear scores,
// where z is the standardized row.
type Logistic struct {
	features []string
	task     learn.Task
	classes  int // 2 for binary, K for multiclass
	body     logisticBody
}

// logisticBody is the model file's "model" object of kind logistic.
type logisticBody struct {
	standardizer
	// Coef holds the coefficients on standardized features: Cols values
	// for binary, Classes*Cols (class after class) for multiclass.
	Coef      []float64      `json:"coef"`
	Intercept []float64      `json:"intercept"` // 1 for binary, Classes for multiclass
	Params    LogisticConfig `json:"params"`
	Fit       FitInfo        `json:"fit"`
}

// FitInfo tells how the optimizer ended.
type FitInfo struct {
	Iterations  int     `json:"iterations"`
	Evaluations int     `json:"evaluations"`
	Status      string  `json:"status"`    // gonum's optimize.Status
	Objective   float64 `json:"objective"` // the mean objective at the end
}

var _ learn.Model = (*Logistic)(nil)

// TrainLogistic fits a logistic regression to d for task (TaskBinary or
// TaskMulticlass). It refuses data that learn.CheckTraining refuses, with
// a *learn.DataError. The context stops training between evaluations.
func TrainLogistic(ctx context.Context, d *learn.Dataset, task learn.Task, cfg LogisticConfig) (*Logistic, error) {
	if task != learn.TaskBinary && task != learn.TaskMulticlass {
		return nil, learn.NewDataError(learn.ReasonBadTask, "logistic regression predicts binary or multiclass, not %q", task)
	}
	if err := learn.CheckTraining(d, task); err != nil {
		return nil, fmt.Errorf("train logistic regression: %w", err)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("train logistic regression: %w", err)
	}
	st := fitStandardizer(d)
	obj := &logisticObjective{
		z:       st.matrix(d, cfg.Workers),
		y:       d.Y,
		rows:    d.Rows,
		cols:    d.Cols,
		outputs: 1,
		l2:      1 / (cfg.C * float64(d.Rows)),
		workers: cfg.Workers,
		ctx:     ctx,
	}
	classes := 2
	if task == learn.TaskMulticlass {
		classes = d.Classes
		obj.outputs = classes
	}
	x0 := obj.start()
	prob := optimize.Problem{
		Func: obj.f,
		Grad: obj.g,
		Status: func() (optimize.Status, error) {
			if err := ctx.Err(); err != nil {
				return optimize.Failure, err
			}
			return optimize.NotTerminated, nil
		},
	}
	settings := &optimize.Settings{
		GradientThreshold: cfg.Tol,
		MajorIterations:   cfg.MaxIter,
		// Stop as scipy's L-BFGS-B does when the objective no longer
		// decreases relatively (its ftol is 64 machine epsilons).
		Converger: &optimize.FunctionConverge{Relative: 64 * 2.220446049250313e-16, Iterations: 1},
	}
	res, err := optimize.Minimize(prob, x0, settings, &optimize.LBFGS{Store: 10, Linesearcher: &optimize.MoreThuente{}})
	if cerr := ctx.Err(); cerr != nil {
		return nil, fmt.Errorf("train logistic regression: %w", cerr)
	}
	if res == nil || !allFinite(res.X) {
		return nil, fmt.Errorf("train logistic regression: optimizer found no solution: %w", errors.Join(err, errors.New("no finite location")))
	}
	// A line search that can make no more progress ends here with an
	// error, at the best location found: that is converged as far as
	// float64 allows, so the location is kept.
	m := &Logistic{features: d.FeatureNames(), task: task, classes: classes}
	m.body.standardizer = st
	m.body.Params = cfg
	m.body.Fit = FitInfo{
		Iterations:  res.Stats.MajorIterations,
		Evaluations: res.Stats.FuncEvaluations,
		Status:      res.Status.String(),
		Objective:   res.F,
	}
	k := obj.outputs
	m.body.Coef = make([]float64, k*d.Cols)
	m.body.Intercept = make([]float64, k)
	for c := range k {
		copy(m.body.Coef[c*d.Cols:(c+1)*d.Cols], res.X[c*(d.Cols+1):c*(d.Cols+1)+d.Cols])
		m.body.Intercept[c] = res.X[c*(d.Cols+1)+d.Cols]
	}
	return m, nil
}

// Info describes the model.
func (m *Logistic) Info() learn.ModelInfo {
	return learn.ModelInfo{Kind: KindLogistic, Task: m.task, Features: append([]string(nil), m.features...), Classes: m.classes}
}

// Outputs is 1 for binary (P(y=1)) and the number of classes for
// multiclass.
func (m *Logistic) Outputs() int {
	if m.task == learn.TaskBinary {
		return 1
	}
	return m.classes
}

// Coef returns the coefficients of class c on the standardized features
// (c is 0 for binary), and its intercept.
func (m *Logistic) Coef(c int) ([]float64, float64) {
	d := len(m.features)
	return append([]float64(nil), m.body.Coef[c*d:(c+1)*d]...), m.body.Intercept[c]
}

// Fit tells how training ended.
func (m *Logistic) Fit() FitInfo { return m.body.Fit }

// Predict writes P(y=1) (binary) or the class probabilities (multiclass) of
// a raw row into out. It allocates nothing.
func (m *Logistic) Predict(row, out []float64) {
	d := len(m.features)
	st := &m.body.standardizer
	for c := range m.Outputs() {
		eta := m.body.Intercept[c]
		w := m.body.Coef[c*d : (c+1)*d]
		for j, x := range row[:d] {
			if !math.IsNaN(x) {
				eta += w[j] * ((x - st.Mean[j]) / st.Scale[j])
			}
		}
		out[c] = eta
	}
	if m.task == learn.TaskBinary {
		out[0] = sigmoid(out[0])
		return
	}
	softmax(out[:m.classes])
}

// MarshalJSON encodes the model file's "model" object.
func (m *Logistic) MarshalJSON() ([]byte, error) { return json.Marshal(&m.body) }

// DecodeLogistic decodes the "model" object of a model file of kind
// logistic, whose header is info, and checks it.
func DecodeLogistic(info learn.ModelInfo, body []byte) (*Logistic, error) {
	m := &Logistic{features: info.Features, task: info.Task, classes: info.Classes}
	if err := json.Unmarshal(body, &m.body); err != nil {
		return nil, fmt.Errorf("decode logistic model: %w", err)
	}
	d := len(info.Features)
	k := 1
	switch info.Task {
	case learn.TaskBinary:
		if info.Classes != 2 {
			return nil, learn.NewDataError(learn.ReasonShape, "binary logistic model with %d classes", info.Classes)
		}
	case learn.TaskMulticlass:
		if info.Classes < 2 {
			return nil, learn.NewDataError(learn.ReasonShape, "multiclass logistic model with %d classes", info.Classes)
		}
		k = info.Classes
	default:
		return nil, learn.NewDataError(learn.ReasonBadTask, "logistic model for task %q", info.Task)
	}
	if err := m.body.check(d); err != nil {
		return nil, fmt.Errorf("decode logistic model: %w", err)
	}
	if len(m.body.Coef) != k*d || len(m.body.Intercept) != k || !allFinite(m.body.Coef) || !allFinite(m.body.Intercept) {
		return nil, learn.NewDataError(learn.ReasonShape, "logistic model has %d coefficients and %d intercepts for %d features and %d outputs, or a non-finite one",
			len(m.body.Coef), len(m.body.Intercept), d, k)
	}
	return m, nil
}

func sigmoid(eta float64) float64 {
	if eta >= 0 {
		return 1 / (1 + math.Exp(-eta))
	}
	e := math.Exp(eta)
	return e / (1 + e)
}

// softmax turns scores into probabilities in place. Scores of +Inf (from
// a raw value too large for float64) share the whole probability.
func softmax(v []float64) {
	top := math.Inf(-1)
	for _, s := range v {
		top = max(top, s)
	}
	if math.IsInf(top, 1) {
		n := 0.0
		for _, s := range v {
			if math.IsInf(s, 1) {
				n++
			}
		}
		for k, s := range v {
			v[k] = 0
			if math.IsInf(s, 1) {
				v[k] = 1 / n
			}
		}
		return
	}
	var sum float64
	for k, s := range v {
		v[k] = math.Exp(s - top)
		sum += v[k]
	}
	for k := range v {
		v[k] /= sum
	}
}
