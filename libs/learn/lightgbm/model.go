package lightgbm

import (
	"errors"
	"math"

	"github.com/tributary-ml/tributary/libs/learn"
)

// Errors that Parse wraps; test them with errors.Is.
var (
	// ErrFormat: the input is not a complete, consistent LightGBM text model.
	ErrFormat = errors.New("malformed lightgbm model")
	// ErrUnsupported: a well-formed model this package cannot score.
	ErrUnsupported = errors.New("unsupported lightgbm model")
)

// kZeroThreshold is LightGBM's kZeroThreshold (1e-35f): a value within it of
// zero counts as zero.
var kZeroThreshold = float64(float32(1e-35))

// Missing types, bits 2-3 of decision_type.
const (
	missingNone = 0
	missingZero = 1
	missingNaN  = 2
)

// Bits of decision_type.
const (
	flagCategorical = 1
	flagDefaultLeft = 2
)

// transform is the objective's output function.
type transform int

const (
	identity    transform = iota
	square                // regression with sqrt: sign(x)·x²
	exponential           // poisson, gamma, tweedie
	sigmoid               // binary, cross_entropy: 1/(1+exp(-σx))
	softmax               // multiclass
	sigmoidEach           // multiclassova: a sigmoid per class
)

// node is an internal node of a tree. Children are node indices into
// Model.nodes when ≥ 0, and ^leaf (a leaf index into Model.leaves) when < 0.
type node struct {
	threshold   float64 // numerical: go left when x <= threshold
	feature     int32
	left, right int32
	// Categorical splits: the bitset of categories that go left is
	// catBits[catStart : catStart+catWords].
	catStart, catWords uint32
	categorical        bool
	defaultLeft        bool
	missing            uint8
}

// Model is a parsed LightGBM model. It is immutable and safe for concurrent
// use. It implements learn.Predictor.
type Model struct {
	version      string
	objective    string
	task         learn.Task
	features     []string
	outputs      int
	transform    transform
	sigmoid      float64 // the sigmoid objective parameter
	averageScale float64 // 1, or 1/iterations for average_output (random forest)

	nodes   []node
	leaves  []float64
	catBits []uint32
	roots   []int32 // per tree, its root in the same encoding as node children
}

var _ learn.Predictor = (*Model)(nil)

// Version is the model file's format version ("v3", "v4").
func (m *Model) Version() string { return m.version }

// Objective is the objective as the file names it ("binary", "multiclass",
// "regression", ...), without its parameters.
func (m *Model) Objective() string { return m.objective }

// Task is what the model predicts.
func (m *Model) Task() learn.Task { return m.task }

// Features are the model's feature names in the order Predict expects its
// row. LightGBM names unnamed features Column_0, Column_1, ...
func (m *Model) Features() []string { return append([]string(nil), m.features...) }

// NumFeatures is the length of the row Predict expects (max_feature_idx+1).
func (m *Model) NumFeatures() int { return len(m.features) }

// Trees is the number of trees.
func (m *Model) Trees() int { return len(m.roots) }

// Outputs is 1 for binary and regression, the number of classes for
// multiclass.
func (m *Model) Outputs() int { return m.outputs }

// Predict writes the model's prediction for row into out (Outputs values):
// P(y=1) for binary, the probability of each class (class k at out[k]) for
// multiclass, the predicted value for regression; the same numbers as
// LightGBM's Booster.predict. row holds the features in Features order, NaN
// for a missing value; a row shorter than NumFeatures has its remaining
// features missing. It does not allocate.
func (m *Model) Predict(row, out []float64) {
	m.PredictRaw(row, out)
	out = out[:m.outputs]
	switch m.transform {
	case identity:
	case square:
		out[0] = math.Copysign(out[0]*out[0], out[0])
	case exponential:
		out[0] = math.Exp(out[0])
	case sigmoid:
		out[0] = 1 / (1 + math.Exp(-m.sigmoid*out[0]))
	case sigmoidEach:
		for k, v := range out {
			out[k] = 1 / (1 + math.Exp(-m.sigmoid*v))
		}
	case softmax:
		hi := math.Inf(-1)
		for _, v := range out {
			hi = math.Max(hi, v)
		}
		var sum float64
		for k, v := range out {
			out[k] = math.Exp(v - hi)
			sum += out[k]
		}
		for k := range out {
			out[k] /= sum
		}
	}
}

// PredictRaw writes the raw scores (LightGBM's raw_score=True: the sum of
// the trees' outputs, before the objective's transform) into out.
func (m *Model) PredictRaw(row, out []float64) {
	out = out[:m.outputs]
	for k := range out {
		out[k] = 0
	}
	k := 0
	for _, root := range m.roots {
		out[k] += m.leaves[^m.leaf(root, row)]
		if k++; k == len(out) {
			k = 0
		}
	}
	if m.averageScale != 1 {
		for k := range out {
			out[k] *= m.averageScale
		}
	}
}

// leaf walks a tree from i to its leaf and returns it encoded as ^leaf.
func (m *Model) leaf(i int32, row []float64) int32 {
	for i >= 0 {
		n := &m.nodes[i]
		x := math.NaN()
		if int(n.feature) < len(row) {
			x = row[n.feature]
		}
		if n.categorical {
			i = m.categorical(n, x)
		} else {
			i = numerical(n, x)
		}
	}
	return i
}

// numerical is LightGBM's NumericalDecision (its predictor first maps
// values within kZeroThreshold of zero to zero).
func numerical(n *node, x float64) int32 {
	if x != x { // NaN: missing for type NaN; zero, so missing, for type Zero
		if n.missing != missingNone {
			return n.dflt()
		}
		x = 0
	} else if x >= -kZeroThreshold && x <= kZeroThreshold {
		if n.missing == missingZero {
			return n.dflt()
		}
		x = 0
	}
	if x <= n.threshold {
		return n.left
	}
	return n.right
}

func (n *node) dflt() int32 {
	if n.defaultLeft {
		return n.left
	}
	return n.right
}

// categorical is LightGBM's CategoricalDecision: the value truncated to an
// int is looked up in the node's bitset; NaN, negative and values beyond
// int32 (which C++ casts to a negative int) go right.
func (m *Model) categorical(n *node, x float64) int32 {
	if !(x > -1 && x < math.MaxInt32+1) { // also NaN
		return n.right
	}
	c := uint32(x) // truncates toward zero, like static_cast<int>
	if w := c / 32; w < n.catWords && m.catBits[n.catStart+w]>>(c%32)&1 == 1 {
		return n.left
	}
	return n.right
}
