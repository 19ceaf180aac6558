package gbdt

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/tributary-ml/tributary/libs/learn"
)

// Kind is the model file kind of a GBDT model (libs/learn/modelfile).
const Kind = "gbdt"

// body is the "model" object of a GBDT model file (README.md, "Model
// file"); the file's header holds the kind, task, features and classes.
type body struct {
	NumFeatures int        `json:"num_features"` // len of the header's features, checked on decoding
	Iterations  int        `json:"iterations"`
	Baseline    []float64  `json:"baseline"`
	Trees       []treeJSON `json:"trees"`
	Params      Params     `json:"params"`
	Fit         FitInfo    `json:"fit"`
}

// treeJSON is one tree, column-wise: entry i of every array is node i.
type treeJSON struct {
	Feature     []int32   `json:"feature"`      // -1 for a leaf
	Threshold   []float64 `json:"threshold"`    // go left when x <= threshold (0 for a leaf)
	Left        []int32   `json:"left"`         // -1 for a leaf
	Right       []int32   `json:"right"`        // -1 for a leaf
	DefaultLeft []bool    `json:"default_left"` // NaN goes left (false for a leaf)
	Value       []float64 `json:"value"`        // leaf value (0 for an inner node)
}

// Info describes the model for its model file's header.
func (m *Model) Info() learn.ModelInfo {
	classes := m.classes
	if m.task == learn.TaskBinary {
		classes = 2
	}
	return learn.ModelInfo{Kind: Kind, Task: m.task, Features: append([]string(nil), m.features...), Classes: classes}
}

// MarshalJSON encodes the model file's "model" object. The same model
// always encodes to the same bytes.
func (m *Model) MarshalJSON() ([]byte, error) {
	out := body{
		NumFeatures: len(m.features),
		Iterations:  m.iterations,
		Baseline:    m.baseline,
		Trees:       make([]treeJSON, len(m.trees)),
		Params:      m.params,
		Fit:         m.fit,
	}
	for i, t := range m.trees {
		n := len(t.nodes)
		tj := treeJSON{
			Feature: make([]int32, n), Threshold: make([]float64, n), Left: make([]int32, n),
			Right: make([]int32, n), DefaultLeft: make([]bool, n), Value: make([]float64, n),
		}
		for j, nd := range t.nodes {
			tj.Feature[j], tj.Threshold[j], tj.Left[j], tj.Right[j] = nd.feature, nd.threshold, nd.left, nd.right
			tj.DefaultLeft[j], tj.Value[j] = nd.defaultLeft, nd.value
		}
		out.Trees[i] = tj
	}
	return json.Marshal(out)
}

// Decode decodes the "model" object of a model file of kind gbdt, whose
// header is info, and checks it: a model that would not predict safely
// (a tree that loops or reads out of range, a non-finite value, counts
// that disagree with the header) is refused with an error wrapping
// ErrInvalidModel.
func Decode(info learn.ModelInfo, data []byte) (*Model, error) {
	var in body
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, invalidModel("decode: %v", err)
	}
	bad := invalidModel
	k := 1
	switch info.Task {
	case learn.TaskBinary:
		if info.Classes != 2 {
			return nil, bad("binary model with %d classes", info.Classes)
		}
	case learn.TaskRegression:
		if info.Classes != 0 {
			return nil, bad("regression model with %d classes", info.Classes)
		}
	case learn.TaskMulticlass:
		if info.Classes < 2 {
			return nil, bad("multiclass model with %d classes", info.Classes)
		}
		k = info.Classes
	default:
		return nil, bad("unknown task %q", info.Task)
	}
	nf := len(info.Features)
	if nf < 1 || nf != in.NumFeatures {
		return nil, bad("the header names %d features, the model has %d", nf, in.NumFeatures)
	}
	if len(in.Baseline) != k {
		return nil, bad("%d baseline values, want %d", len(in.Baseline), k)
	}
	for _, v := range in.Baseline {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, bad("baseline %v", v)
		}
	}
	if in.Iterations < 0 || len(in.Trees) != in.Iterations*k {
		return nil, bad("%d trees for %d iterations of %d", len(in.Trees), in.Iterations, k)
	}
	m := &Model{
		task: info.Task, features: append([]string(nil), info.Features...), baseline: in.Baseline,
		iterations: in.Iterations, params: in.Params, fit: in.Fit, trees: make([]tree, len(in.Trees)),
	}
	if info.Task == learn.TaskMulticlass {
		m.classes = k
	}
	for i, tj := range in.Trees {
		n := len(tj.Feature)
		if n == 0 || len(tj.Threshold) != n || len(tj.Left) != n || len(tj.Right) != n ||
			len(tj.DefaultLeft) != n || len(tj.Value) != n {
			return nil, bad("tree %d: node arrays of different lengths or empty", i)
		}
		nodes := make([]node, n)
		for j := range n {
			nd := node{
				feature: tj.Feature[j], threshold: tj.Threshold[j], left: tj.Left[j], right: tj.Right[j],
				defaultLeft: tj.DefaultLeft[j], value: tj.Value[j],
			}
			switch {
			case nd.feature == -1:
				if nd.left != -1 || nd.right != -1 {
					return nil, bad("tree %d node %d: a leaf with children", i, j)
				}
				if math.IsNaN(nd.value) || math.IsInf(nd.value, 0) {
					return nil, bad("tree %d node %d: leaf value %v", i, j, nd.value)
				}
			case nd.feature < 0 || int(nd.feature) >= nf:
				return nil, bad("tree %d node %d: feature %d of %d", i, j, nd.feature, nf)
			case math.IsNaN(nd.threshold):
				return nil, bad("tree %d node %d: threshold NaN", i, j)
			case nd.left <= int32(j) || nd.right <= int32(j) || int(nd.left) >= n || int(nd.right) >= n:
				// children after their parent: no loops, no reads out of range
				return nil, bad("tree %d node %d: children %d and %d", i, j, nd.left, nd.right)
			}
			nodes[j] = nd
		}
		m.trees[i] = tree{nodes: nodes}
	}
	return m, nil
}
