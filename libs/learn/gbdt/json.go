package gbdt

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/tributary-ml/tributary/libs/learn"
)

// FormatVersion is the version of the model's JSON layout. A loader
// rejects a model of any other version.
const FormatVersion = 1

// modelJSON is the documented layout of a model file (see FORMAT.md).
type modelJSON struct {
	FormatVersion int        `json:"format_version"`
	Task          learn.Task `json:"task"`
	NumFeatures   int        `json:"num_features"`
	Features      []string   `json:"features,omitempty"`
	Classes       int        `json:"classes,omitempty"`
	Iterations    int        `json:"iterations"`
	Baseline      []float64  `json:"baseline"`
	Trees         []treeJSON `json:"trees"`
	Params        Params     `json:"params"`
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

// MarshalJSON encodes the model in the layout described in FORMAT.md. The
// same model always encodes to the same bytes.
func (m *Model) MarshalJSON() ([]byte, error) {
	out := modelJSON{
		FormatVersion: FormatVersion,
		Task:          m.task,
		NumFeatures:   m.nFeatures,
		Features:      m.features,
		Classes:       m.classes,
		Iterations:    m.iterations,
		Baseline:      m.baseline,
		Trees:         make([]treeJSON, len(m.trees)),
		Params:        m.params,
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

// UnmarshalJSON decodes and checks a model; a model that would not predict
// safely (a wrong version, a tree that loops or indexes out of range, a
// non-finite value) is rejected with an error wrapping ErrInvalidModel.
func (m *Model) UnmarshalJSON(data []byte) error {
	var in modelJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return invalidModel("decode: %v", err)
	}
	got, err := fromJSON(&in)
	if err != nil {
		return err
	}
	*m = *got
	return nil
}

// Load decodes a model from its JSON encoding.
func Load(data []byte) (*Model, error) {
	var m Model
	if err := m.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return &m, nil
}

func fromJSON(in *modelJSON) (*Model, error) {
	bad := invalidModel
	if in.FormatVersion != FormatVersion {
		return nil, bad("format_version %d, this build reads %d", in.FormatVersion, FormatVersion)
	}
	k := 1
	switch in.Task {
	case learn.TaskBinary, learn.TaskRegression:
		if in.Classes != 0 {
			return nil, bad("classes %d for task %s", in.Classes, in.Task)
		}
	case learn.TaskMulticlass:
		if in.Classes < 2 {
			return nil, bad("classes %d, want at least 2", in.Classes)
		}
		k = in.Classes
	default:
		return nil, bad("unknown task %q", in.Task)
	}
	if in.NumFeatures < 1 {
		return nil, bad("num_features %d", in.NumFeatures)
	}
	if len(in.Features) != 0 && len(in.Features) != in.NumFeatures {
		return nil, bad("%d feature names for %d features", len(in.Features), in.NumFeatures)
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
		task: in.Task, features: in.Features, nFeatures: in.NumFeatures, baseline: in.Baseline,
		iterations: in.Iterations, params: in.Params, trees: make([]tree, len(in.Trees)),
	}
	if in.Task == learn.TaskMulticlass {
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
			case nd.feature < 0 || int(nd.feature) >= in.NumFeatures:
				return nil, bad("tree %d node %d: feature %d of %d", i, j, nd.feature, in.NumFeatures)
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
