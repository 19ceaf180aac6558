package gbdt

import (
	"math"

	"github.com/tributary-ml/tributary/libs/learn"
)

// maxFloat is the threshold of a split that separates the missing values
// from all others (JSON has no +Inf).
const maxFloat = math.MaxFloat64

// node is one node of a flat tree. A leaf has feature -1 and holds value;
// an inner node sends row x left when x[feature] <= threshold, right when
// it is greater, and a NaN to the left child when defaultLeft. Children
// always come after their parent.
type node struct {
	threshold   float64
	value       float64
	feature     int32
	left, right int32
	defaultLeft bool
}

// tree is a flat regression tree; nodes[0] is the root.
type tree struct {
	nodes []node
}

// eval returns the leaf value row x falls into.
func (t *tree) eval(x []float64) float64 {
	nodes := t.nodes
	i := int32(0)
	for {
		n := &nodes[i]
		if n.feature < 0 {
			return n.value
		}
		v := x[n.feature]
		switch {
		case v <= n.threshold:
			i = n.left
		case v != v: // NaN: the learned default direction
			if n.defaultLeft {
				i = n.left
			} else {
				i = n.right
			}
		default:
			i = n.right
		}
	}
}

// Model is a trained gradient-boosted tree ensemble. It implements
// learn.Predictor; Predict is safe for concurrent use and does not
// allocate.
type Model struct {
	task       learn.Task
	features   []string
	classes    int       // multiclass only
	baseline   []float64 // per output: the raw score before any tree
	trees      []tree    // iteration-major: trees[i*k+c] is iteration i, class c
	iterations int
	params     Params
	fit        FitInfo
}

// FitInfo tells how training went; the model file keeps it as provenance.
type FitInfo struct {
	TrainRows      int  `json:"train_rows"`
	ValidationRows int  `json:"validation_rows"` // 0 without early stopping
	StoppedEarly   bool `json:"stopped_early"`
	// ValidationLoss is the mean validation loss before the first tree and
	// after each iteration (empty without early stopping).
	ValidationLoss []float64 `json:"validation_loss,omitempty"`
}

var _ learn.Model = (*Model)(nil)

// Task returns what the model predicts.
func (m *Model) Task() learn.Task { return m.task }

// Features returns the feature names, in the order Predict expects them.
func (m *Model) Features() []string { return m.features }

// NumFeatures is the length of the rows Predict expects.
func (m *Model) NumFeatures() int { return len(m.features) }

// Iterations is the number of boosting iterations the model holds (fewer
// than MaxIter when training stopped early).
func (m *Model) Iterations() int { return m.iterations }

// Fit tells how training went.
func (m *Model) Fit() FitInfo { return m.fit }

// Params returns the hyper-parameters the model was trained with.
func (m *Model) Params() Params { return m.params }

// Outputs is 1 for binary and regression, the number of classes for
// multiclass.
func (m *Model) Outputs() int { return len(m.baseline) }

// PredictRaw writes the raw scores of row x into out (Outputs() values):
// the log-odds for binary, the per-class logits for multiclass, the
// prediction itself for regression.
func (m *Model) PredictRaw(x, out []float64) {
	k := len(m.baseline)
	out = out[:k]
	copy(out, m.baseline)
	if k == 1 {
		s := out[0]
		for i := range m.trees {
			s += m.trees[i].eval(x)
		}
		out[0] = s
		return
	}
	for i := range m.trees {
		out[i%k] += m.trees[i].eval(x)
	}
}

// Predict writes the prediction for row x into out: P(y=1) for binary,
// the class probabilities for multiclass, the value for regression. A NaN
// feature is a missing value and follows each split's learned default
// direction. x must have NumFeatures() values.
func (m *Model) Predict(x, out []float64) {
	m.PredictRaw(x, out)
	switch m.task {
	case learn.TaskBinary:
		out[0] = sigmoid(out[0])
	case learn.TaskMulticlass:
		softmax(out[:len(m.baseline)])
	}
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// softmax turns logits into probabilities in place. An infinite logit
// (only a hand-made model file gets one) counts as the largest finite one,
// so the result is never NaN.
func softmax(z []float64) {
	for i, v := range z {
		z[i] = min(max(v, -math.MaxFloat64), math.MaxFloat64)
	}
	m := z[0]
	for _, v := range z[1:] {
		m = max(m, v)
	}
	var s float64
	for i, v := range z {
		z[i] = math.Exp(v - m)
		s += z[i]
	}
	for i := range z {
		z[i] /= s
	}
}
