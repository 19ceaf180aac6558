package linear

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/tributary-ml/tributary/libs/learn"
)

// KindRidge is the model file kind of a ridge regression.
const KindRidge = "ridge"

// RidgeConfig sets up ridge regression. The zero value means Alpha 1.
type RidgeConfig struct {
	// Alpha is the strength of the L2 penalty, as scikit-learn's Ridge
	// alpha: training minimizes ‖y - b - Zw‖² + Alpha·‖w‖² over the
	// coefficients w of the standardized features Z (the intercept b is not
	// penalized). 0 means 1; use a tiny positive value for (almost)
	// ordinary least squares.
	Alpha float64 `json:"alpha"`
	// Workers is the number of goroutines that sum the normal equations;
	// 0 means GOMAXPROCS. The model does not depend on it.
	Workers int `json:"-"`
}

// Ridge is a trained ridge regression: it predicts b + w·z for the
// standardized row z.
type Ridge struct {
	features []string
	body     ridgeBody
}

// ridgeBody is the model file's "model" object of kind ridge.
type ridgeBody struct {
	standardizer
	Coef      []float64   `json:"coef"` // on standardized features
	Intercept float64     `json:"intercept"`
	Params    RidgeConfig `json:"params"`
}

var _ learn.Model = (*Ridge)(nil)

// TrainRidge fits a ridge regression to d (TaskRegression labels) by
// solving its normal equations with a Cholesky factorization. It refuses
// data that learn.CheckTraining refuses, with a *learn.DataError.
func TrainRidge(ctx context.Context, d *learn.Dataset, cfg RidgeConfig) (*Ridge, error) {
	if err := learn.CheckTraining(d, learn.TaskRegression); err != nil {
		return nil, fmt.Errorf("train ridge regression: %w", err)
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = 1
	}
	if !(cfg.Alpha > 0) || math.IsInf(cfg.Alpha, 0) {
		return nil, fmt.Errorf("train ridge regression: %w", learn.NewDataError(learn.ReasonBadParam, "alpha is %v, want a finite number > 0", cfg.Alpha))
	}
	workers := defaultWorkers(cfg.Workers)
	st := fitStandardizer(d)
	p := d.Cols
	var ymean float64
	for _, y := range d.Y {
		ymean += y
	}
	ymean /= float64(d.Rows)
	// Z'Z (upper triangle, row-major p×p) and Z'(y - ȳ), summed by block.
	// Standardized columns have mean 0, so no further centering is needed.
	width := p*p + p
	total := make([]float64, width)
	blockSums(d.Rows, width, workers, total, func(lo, hi int, acc []float64) {
		z := make([]float64, p)
		gram, zy := acc[:p*p], acc[p*p:]
		for i := lo; i < hi; i++ {
			st.apply(d.Row(i), z)
			y := d.Y[i] - ymean
			for a, za := range z {
				if za == 0 {
					continue
				}
				zy[a] += za * y
				row := gram[a*p : (a+1)*p]
				for b := a; b < p; b++ {
					row[b] += za * z[b]
				}
			}
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("train ridge regression: %w", err)
	}
	gram := mat.NewSymDense(p, nil)
	for a := range p {
		for b := a; b < p; b++ {
			v := total[a*p+b]
			if a == b {
				v += cfg.Alpha
			}
			gram.SetSym(a, b, v)
		}
	}
	var chol mat.Cholesky
	if ok := chol.Factorize(gram); !ok {
		return nil, fmt.Errorf("train ridge regression: %w", learn.NewDataError(learn.ReasonBadParam, "normal equations are not positive definite with alpha %v", cfg.Alpha))
	}
	var w mat.VecDense
	if err := chol.SolveVecTo(&w, mat.NewVecDense(p, total[p*p:])); err != nil {
		return nil, fmt.Errorf("train ridge regression: solve normal equations: %w", err)
	}
	m := &Ridge{features: d.FeatureNames()}
	m.body.standardizer = st
	m.body.Coef = make([]float64, p)
	for j := range p {
		m.body.Coef[j] = w.AtVec(j)
	}
	m.body.Intercept = ymean
	cfg.Workers = 0
	m.body.Params = cfg
	if !allFinite(m.body.Coef) {
		return nil, fmt.Errorf("train ridge regression: %w", learn.NewDataError(learn.ReasonBadFeature, "the solution is not finite; the features' range is too large"))
	}
	return m, nil
}

// Info describes the model.
func (m *Ridge) Info() learn.ModelInfo {
	return learn.ModelInfo{Kind: KindRidge, Task: learn.TaskRegression, Features: append([]string(nil), m.features...)}
}

// Outputs is 1.
func (m *Ridge) Outputs() int { return 1 }

// Coef returns the coefficients on the standardized features and the
// intercept.
func (m *Ridge) Coef() ([]float64, float64) {
	return append([]float64(nil), m.body.Coef...), m.body.Intercept
}

// Predict writes the prediction for a raw row into out[0]. It allocates
// nothing.
func (m *Ridge) Predict(row, out []float64) {
	st := &m.body.standardizer
	s := m.body.Intercept
	for j, x := range row[:len(m.features)] {
		if !math.IsNaN(x) {
			s += m.body.Coef[j] * ((x - st.Mean[j]) / st.Scale[j])
		}
	}
	out[0] = s
}

// MarshalJSON encodes the model file's "model" object.
func (m *Ridge) MarshalJSON() ([]byte, error) { return json.Marshal(&m.body) }

// DecodeRidge decodes the "model" object of a model file of kind ridge,
// whose header is info, and checks it.
func DecodeRidge(info learn.ModelInfo, body []byte) (*Ridge, error) {
	if info.Task != learn.TaskRegression {
		return nil, learn.NewDataError(learn.ReasonBadTask, "ridge model for task %q", info.Task)
	}
	m := &Ridge{features: info.Features}
	if err := json.Unmarshal(body, &m.body); err != nil {
		return nil, fmt.Errorf("decode ridge model: %w", err)
	}
	d := len(info.Features)
	if err := m.body.check(d); err != nil {
		return nil, fmt.Errorf("decode ridge model: %w", err)
	}
	if len(m.body.Coef) != d || !allFinite(m.body.Coef) || !finite(m.body.Intercept) {
		return nil, learn.NewDataError(learn.ReasonShape, "ridge model has %d coefficients for %d features, or a non-finite one", len(m.body.Coef), d)
	}
	return m, nil
}
