package xgboost

import (
	"errors"
	"math"

	"github.com/tributary-ml/tributary/libs/learn"
)

// Errors that Parse wraps; test them with errors.Is.
var (
	// ErrFormat: the input is not a complete, consistent XGBoost JSON model.
	ErrFormat = errors.New("malformed xgboost model")
	// ErrUnsupported: a well-formed model this package cannot score.
	ErrUnsupported = errors.New("unsupported xgboost model")
)

// maxCat is XGBoost's OutOfRangeCat (2^24): a category value must be in
// [0, maxCat), else it is invalid and goes left.
const maxCat = 1 << 24

// transform is the objective's output function.
type transform int

const (
	identity    transform = iota
	logistic              // binary:logistic, reg:logistic
	exponential           // count:poisson, reg:gamma, reg:tweedie
	softmax               // multi:softprob, multi:softmax
)

// node is a tree node. A leaf has left < 0 and its value in cond.
type node struct {
	cond        float32 // numerical split: go left when x < cond; leaf: its value
	feature     int32
	left, right int32 // indices into Model.nodes
	// Categorical splits: the bitset of the categories that go right is
	// catBits[catStart : catStart+catWords].
	catStart, catWords uint32
	categorical        bool
	defaultLeft        bool
}

// Model is a parsed XGBoost model. It is immutable and safe for concurrent
// use. It implements learn.Predictor.
type Model struct {
	version      string
	objective    string
	booster      string
	task         learn.Task
	features     []string
	featureTypes []string
	outputs      int
	transform    transform
	base         []float32 // the margin each output starts from

	nodes   []node
	catBits []uint32
	roots   []int32
	groups  []int32   // output of each tree (tree_info)
	weights []float32 // dart's weight_drop per tree, nil for gbtree
}

var _ learn.Predictor = (*Model)(nil)

// Version is the XGBoost version that wrote the model ("3.4.1").
func (m *Model) Version() string { return m.version }

// Objective is the objective's name ("binary:logistic", "multi:softprob",
// "reg:squarederror", ...).
func (m *Model) Objective() string { return m.objective }

// Booster is "gbtree" or "dart".
func (m *Model) Booster() string { return m.booster }

// Task is what the model predicts.
func (m *Model) Task() learn.Task { return m.task }

// Features are the model's feature names in the order Predict expects its
// row: the feature_names the model was trained with, or f0, f1, ... (as
// XGBoost names them) when it has none.
func (m *Model) Features() []string { return append([]string(nil), m.features...) }

// FeatureTypes are the feature_types the model was trained with ("q" for
// numerical, "c" for categorical, ...), nil when the model has none.
func (m *Model) FeatureTypes() []string { return append([]string(nil), m.featureTypes...) }

// NumFeatures is the length of the row Predict expects.
func (m *Model) NumFeatures() int { return len(m.features) }

// Trees is the number of trees.
func (m *Model) Trees() int { return len(m.roots) }

// Outputs is 1 for binary and regression, the number of classes for
// multiclass.
func (m *Model) Outputs() int { return m.outputs }

// Predict writes the model's prediction for row into out (Outputs values):
// P(y=1) for binary:logistic, the probability of each class (class k at
// out[k]) for multi:softprob and multi:softmax (where XGBoost's predict
// returns the most probable class instead), the predicted value for
// regression; otherwise the same numbers as XGBoost's Booster.predict. row
// holds the features in Features order, NaN for a missing value; a row
// shorter than NumFeatures has its remaining features missing. It does not
// allocate.
func (m *Model) Predict(row, out []float64) {
	m.PredictMargin(row, out)
	out = out[:m.outputs]
	switch m.transform {
	case identity:
	case logistic: // in float32 like XGBoost's 1.0f / (1.0f + expf(-x))
		out[0] = float64(1 / (1 + float32(math.Exp(-out[0]))))
	case exponential:
		out[0] = float64(float32(math.Exp(out[0])))
	case softmax:
		hi := float32(math.Inf(-1))
		for _, v := range out {
			hi = max(hi, float32(v))
		}
		var sum float64 // XGBoost's Softmax sums in double
		for k, v := range out {
			e := float32(math.Exp(float64(float32(v) - hi)))
			out[k] = float64(e)
			sum += float64(e)
		}
		for k := range out {
			out[k] = float64(float32(out[k]) / float32(sum))
		}
	}
}

// PredictMargin writes the untransformed margin (XGBoost's
// output_margin=True) into out.
func (m *Model) PredictMargin(row, out []float64) {
	out = out[:m.outputs]
	for k := range out {
		out[k] = float64(m.base[k])
	}
	for t, root := range m.roots {
		v := m.nodes[m.leaf(root, row)].cond
		if m.weights != nil {
			v *= m.weights[t]
		}
		g := m.groups[t]
		out[g] = float64(float32(out[g]) + v)
	}
}

// leaf walks a tree from node i to its leaf.
func (m *Model) leaf(i int32, row []float64) int32 {
	for {
		n := &m.nodes[i]
		if n.left < 0 {
			return i
		}
		if int(n.feature) >= len(row) {
			i = n.dflt()
			continue
		}
		x := row[n.feature]
		switch {
		case x != x: // NaN
			i = n.dflt()
		case n.categorical:
			i = m.categorical(n, float32(x))
		case float32(x) < n.cond:
			i = n.left
		default:
			i = n.right
		}
	}
}

func (n *node) dflt() int32 {
	if n.defaultLeft {
		return n.left
	}
	return n.right
}

// categorical is XGBoost's categorical Decision: a valid category listed by
// the node goes right, anything else left.
func (m *Model) categorical(n *node, x float32) int32 {
	if !(x >= 0 && x < maxCat) {
		return n.left
	}
	c := uint32(x)
	if w := c / 32; w < n.catWords && m.catBits[n.catStart+w]>>(c%32)&1 == 1 {
		return n.right
	}
	return n.left
}
