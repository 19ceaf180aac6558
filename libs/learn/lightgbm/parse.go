package lightgbm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/tributary-ml/tributary/libs/learn"
)

// maxLine bounds one line of a model file (a tree's leaf values can be long).
const maxLine = 64 << 20

// Parse reads a LightGBM text model (format v3 or v4) from r.
func Parse(r io.Reader) (*Model, error) {
	p := &parser{sc: bufio.NewScanner(r)}
	p.sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	m, err := p.model()
	if err != nil {
		if serr := p.sc.Err(); errors.Is(serr, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: line %d is longer than %d bytes", ErrFormat, p.line+1, maxLine)
		} else if serr != nil {
			return nil, fmt.Errorf("read lightgbm model: %w", serr)
		}
		return nil, err
	}
	return m, nil
}

// ParseBytes is Parse over a model held in memory.
func ParseBytes(b []byte) (*Model, error) { return Parse(bytes.NewReader(b)) }

type parser struct {
	sc   *bufio.Scanner
	line int
	// A line read ahead and not yet consumed.
	peeked bool
	text   string
}

func (p *parser) next() (string, bool) {
	if p.peeked {
		p.peeked = false
		return p.text, true
	}
	if !p.sc.Scan() {
		return "", false
	}
	p.line++
	p.text = strings.TrimRight(p.sc.Text(), "\r")
	return p.text, true
}

func (p *parser) unread() { p.peeked = true }

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrFormat, p.line, fmt.Sprintf(format, args...))
}

func (p *parser) model() (*Model, error) {
	header, err := p.header()
	if err != nil {
		return nil, err
	}
	m, err := newModel(header)
	if err != nil {
		return nil, fmt.Errorf("%w (line %d)", err, p.line)
	}
	if err := p.trees(m, header); err != nil {
		return nil, err
	}
	return m, nil
}

// header reads the key=value lines before the first tree.
func (p *parser) header() (map[string]string, error) {
	first, ok := p.next()
	if !ok {
		return nil, p.errorf("empty input")
	}
	if first != "tree" {
		return nil, p.errorf(`first line is %q, not "tree"`, clip(first))
	}
	h := map[string]string{}
	for {
		line, ok := p.next()
		if !ok {
			return nil, p.errorf("file ends in the header, before any tree")
		}
		if strings.HasPrefix(line, "Tree=") || line == "end of trees" {
			p.unread()
			return h, nil
		}
		if line == "" {
			continue
		}
		k, v, found := strings.Cut(line, "=")
		if !found {
			h[line] = "" // flags such as average_output
			continue
		}
		h[k] = v
	}
}

// newModel builds the model's shape from its header.
func newModel(h map[string]string) (*Model, error) {
	m := &Model{version: h["version"], averageScale: 1}
	switch m.version {
	case "v2", "v3", "v4":
	default:
		return nil, fmt.Errorf("%w: version %q (want v2, v3 or v4)", ErrUnsupported, clip(m.version))
	}
	numClass, err := headerInt(h, "num_class", 1)
	if err != nil {
		return nil, err
	}
	perIter, err := headerInt(h, "num_tree_per_iteration", numClass)
	if err != nil {
		return nil, err
	}
	maxFeature, err := headerInt(h, "max_feature_idx", -1)
	if err != nil {
		return nil, err
	}
	if maxFeature < 0 || maxFeature >= 1<<24 {
		return nil, fmt.Errorf("%w: max_feature_idx %d out of range", ErrFormat, maxFeature)
	}
	if names, ok := h["feature_names"]; ok {
		m.features = strings.Fields(names)
		if len(m.features) != maxFeature+1 {
			return nil, fmt.Errorf("%w: %d feature_names for max_feature_idx %d", ErrFormat, len(m.features), maxFeature)
		}
	} else {
		m.features = make([]string, maxFeature+1)
		for i := range m.features {
			m.features[i] = "Column_" + strconv.Itoa(i)
		}
	}
	if err := m.setObjective(h["objective"], numClass); err != nil {
		return nil, err
	}
	if perIter != m.outputs {
		return nil, fmt.Errorf("%w: num_tree_per_iteration %d for objective %q with %d outputs", ErrFormat, perIter, m.objective, m.outputs)
	}
	if _, ok := h["average_output"]; ok {
		m.averageScale = 0 // set once the trees are counted
	}
	return m, nil
}

func headerInt(h map[string]string, key string, dflt int) (int, error) {
	v, ok := h[key]
	if !ok {
		if dflt < 0 {
			return 0, fmt.Errorf("%w: header has no %s", ErrFormat, key)
		}
		return dflt, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: header %s=%q is not a count", ErrFormat, key, clip(v))
	}
	return n, nil
}

// setObjective reads "name key:value ..." (e.g. "binary sigmoid:1",
// "multiclass num_class:3", "regression sqrt").
func (m *Model) setObjective(spec string, numClass int) error {
	fields := strings.Fields(spec)
	if len(fields) == 0 {
		return fmt.Errorf("%w: no objective (a custom objective cannot be scored)", ErrUnsupported)
	}
	m.objective = fields[0]
	params := map[string]string{}
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, ":")
		params[k] = v
	}
	m.sigmoid = 1
	if v, ok := params["sigmoid"]; ok {
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("%w: objective %q has sigmoid %q", ErrFormat, clip(spec), clip(v))
		}
		m.sigmoid = s
	}
	m.outputs, m.task = 1, learn.TaskRegression
	switch m.objective {
	case "regression", "regression_l2", "l2", "mean_squared_error", "mse", "l2_root", "root_mean_squared_error", "rmse",
		"regression_l1", "l1", "mean_absolute_error", "mae", "huber", "fair", "quantile", "mape", "mean_absolute_percentage_error":
		m.transform = identity
		if _, ok := params["sqrt"]; ok {
			m.transform = square
		}
	case "poisson", "gamma", "tweedie":
		m.transform = exponential
	case "binary":
		m.transform, m.task = sigmoid, learn.TaskBinary
	case "cross_entropy", "xentropy":
		m.transform, m.task, m.sigmoid = sigmoid, learn.TaskBinary, 1
	case "multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr":
		m.transform, m.task = softmax, learn.TaskMulticlass
		if m.objective != "multiclass" && m.objective != "softmax" {
			m.transform = sigmoidEach
		}
		if numClass < 2 {
			return fmt.Errorf("%w: objective %q with num_class %d", ErrFormat, clip(spec), numClass)
		}
		m.outputs = numClass
	default:
		return fmt.Errorf("%w: objective %q", ErrUnsupported, clip(spec))
	}
	if m.task != learn.TaskMulticlass && numClass != 1 {
		return fmt.Errorf("%w: objective %q with num_class %d", ErrFormat, clip(spec), numClass)
	}
	return nil
}

// trees reads the Tree=N blocks up to "end of trees" (v3, v4), or in v2,
// which has no such line, up to the feature importances, the pandas
// categories or the end of the file.
func (p *parser) trees(m *Model, h map[string]string) error {
	_, sized := h["tree_sizes"]
	v2 := m.version == "v2"
	for {
		line, ok := p.next()
		if !ok {
			if v2 && sized {
				return m.finish(h)
			}
			return p.errorf(`file ends after %d trees without "end of trees" (truncated?)`, len(m.roots))
		}
		switch {
		case line == "":
			continue
		case line == "end of trees",
			v2 && (line == "feature importances:" || strings.HasPrefix(line, "pandas_categorical:")):
			return m.finish(h)
		case strings.HasPrefix(line, "Tree="):
			if line != "Tree="+strconv.Itoa(len(m.roots)) {
				return p.errorf("%q where Tree=%d was expected", clip(line), len(m.roots))
			}
			block, err := p.block()
			if err != nil {
				return err
			}
			if err := m.addTree(block); err != nil {
				return fmt.Errorf("tree %d (before line %d): %w", len(m.roots), p.line, err)
			}
		default:
			return p.errorf("%q where a tree was expected", clip(line))
		}
	}
}

// block reads a tree's key=value lines.
func (p *parser) block() (map[string]string, error) {
	b := map[string]string{}
	for {
		line, ok := p.next()
		if !ok {
			return nil, p.errorf("file ends inside tree %q (truncated?)", clip(p.text))
		}
		if line == "" || strings.HasPrefix(line, "Tree=") || line == "end of trees" {
			p.unread()
			return b, nil
		}
		k, v, found := strings.Cut(line, "=")
		if !found {
			return nil, p.errorf("tree line %q is not key=value", clip(line))
		}
		b[k] = v
	}
}

func (m *Model) finish(h map[string]string) error {
	if len(m.roots) == 0 {
		return fmt.Errorf("%w: the model has no trees", ErrFormat)
	}
	if len(m.roots)%m.outputs != 0 {
		return fmt.Errorf("%w: %d trees is not a multiple of %d trees per iteration", ErrFormat, len(m.roots), m.outputs)
	}
	if sizes, ok := h["tree_sizes"]; ok {
		if n := len(strings.Fields(sizes)); n != len(m.roots) {
			return fmt.Errorf("%w: tree_sizes lists %d trees, the file has %d (truncated?)", ErrFormat, n, len(m.roots))
		}
	}
	if m.averageScale == 0 {
		m.averageScale = float64(m.outputs) / float64(len(m.roots))
	}
	return nil
}

// addTree appends one tree, checking that it is a tree: every child index is
// in range and every node is reached once from the root.
func (m *Model) addTree(b map[string]string) error {
	if v := b["is_linear"]; v != "" && v != "0" {
		return fmt.Errorf("%w: linear trees (linear_tree=true)", ErrUnsupported)
	}
	numLeaves, err := strconv.Atoi(b["num_leaves"])
	if err != nil || numLeaves < 1 || numLeaves > 1<<24 {
		return fmt.Errorf("%w: num_leaves %q", ErrFormat, clip(b["num_leaves"]))
	}
	leafValues, err := floats(b, "leaf_value", numLeaves)
	if err != nil {
		return err
	}
	if s, ok := b["shrinkage"]; ok {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return fmt.Errorf("%w: shrinkage %q", ErrFormat, clip(s))
		}
	}
	leafBase := len(m.leaves)
	if leafBase+numLeaves > math.MaxInt32 {
		return fmt.Errorf("%w: too many leaves", ErrUnsupported)
	}
	if numLeaves == 1 {
		m.leaves = append(m.leaves, leafValues...)
		m.roots = append(m.roots, ^int32(leafBase))
		return nil
	}
	inner := numLeaves - 1
	features, err := ints(b, "split_feature", inner)
	if err != nil {
		return err
	}
	thresholds, err := floats(b, "threshold", inner)
	if err != nil {
		return err
	}
	decisions, err := ints(b, "decision_type", inner)
	if err != nil {
		return err
	}
	lefts, err := ints(b, "left_child", inner)
	if err != nil {
		return err
	}
	rights, err := ints(b, "right_child", inner)
	if err != nil {
		return err
	}
	numCat := 0
	if v, ok := b["num_cat"]; ok {
		if numCat, err = strconv.Atoi(v); err != nil || numCat < 0 || numCat > inner {
			return fmt.Errorf("%w: num_cat %q", ErrFormat, clip(v))
		}
	}
	var bounds, catWords []int
	if numCat > 0 {
		if bounds, err = ints(b, "cat_boundaries", numCat+1); err != nil {
			return err
		}
		if bounds[0] != 0 {
			return fmt.Errorf("%w: cat_boundaries starts at %d", ErrFormat, bounds[0])
		}
		for i := 1; i < len(bounds); i++ {
			if bounds[i] < bounds[i-1] {
				return fmt.Errorf("%w: cat_boundaries decrease", ErrFormat)
			}
		}
		if catWords, err = ints(b, "cat_threshold", bounds[numCat]); err != nil {
			return err
		}
	}
	nodeBase := len(m.nodes)
	catBase := len(m.catBits)
	if nodeBase+inner > math.MaxInt32 || catBase+len(catWords) > math.MaxUint32 {
		return fmt.Errorf("%w: too many nodes", ErrUnsupported)
	}
	child := func(c int) (int32, error) {
		switch {
		case c >= 0 && c < inner:
			return int32(nodeBase + c), nil
		case c < 0 && ^c < numLeaves:
			return ^int32(leafBase + ^c), nil
		}
		return 0, fmt.Errorf("%w: child %d out of range for %d leaves", ErrFormat, c, numLeaves)
	}
	for _, w := range catWords {
		if w < 0 || w > math.MaxUint32 {
			return fmt.Errorf("%w: cat_threshold word %d", ErrFormat, w)
		}
		m.catBits = append(m.catBits, uint32(w))
	}
	for i := 0; i < inner; i++ {
		d := decisions[i]
		if d < 0 || d > 255 {
			return fmt.Errorf("%w: decision_type %d", ErrFormat, d)
		}
		if features[i] < 0 || features[i] >= len(m.features) {
			return fmt.Errorf("%w: split_feature %d beyond max_feature_idx %d", ErrFormat, features[i], len(m.features)-1)
		}
		n := node{
			feature:     int32(features[i]),
			threshold:   thresholds[i],
			categorical: d&flagCategorical != 0,
			defaultLeft: d&flagDefaultLeft != 0,
			missing:     uint8(d>>2) & 3,
		}
		if n.missing > missingNaN {
			return fmt.Errorf("%w: decision_type %d has missing type 3", ErrFormat, d)
		}
		if n.categorical {
			t := thresholds[i]
			if !(t >= 0 && t < float64(numCat)) || t != math.Trunc(t) {
				return fmt.Errorf("%w: categorical threshold %v is not one of %d categorical splits", ErrFormat, t, numCat)
			}
			c := int(t)
			n.catStart = uint32(catBase + bounds[c])
			n.catWords = uint32(bounds[c+1] - bounds[c])
		} else if math.IsNaN(thresholds[i]) {
			return fmt.Errorf("%w: threshold NaN", ErrFormat)
		}
		if n.left, err = child(lefts[i]); err != nil {
			return err
		}
		if n.right, err = child(rights[i]); err != nil {
			return err
		}
		m.nodes = append(m.nodes, n)
	}
	if err := checkTree(m.nodes[nodeBase:], nodeBase, leafBase, numLeaves); err != nil {
		m.nodes, m.catBits = m.nodes[:nodeBase], m.catBits[:catBase]
		return err
	}
	m.leaves = append(m.leaves, leafValues...)
	m.roots = append(m.roots, int32(nodeBase))
	return nil
}

// checkTree checks that every node and leaf is reached exactly once from the
// root (node 0), so that prediction always ends at a leaf.
func checkTree(nodes []node, nodeBase, leafBase, numLeaves int) error {
	seenNode := make([]bool, len(nodes))
	seenLeaf := make([]bool, numLeaves)
	stack := []int32{int32(nodeBase)}
	seenNode[0] = true
	for len(stack) > 0 {
		n := nodes[int(stack[len(stack)-1])-nodeBase]
		stack = stack[:len(stack)-1]
		for _, c := range [2]int32{n.left, n.right} {
			if c < 0 {
				l := int(^c) - leafBase
				if seenLeaf[l] {
					return fmt.Errorf("%w: leaf %d is reached twice", ErrFormat, l)
				}
				seenLeaf[l] = true
				continue
			}
			i := int(c) - nodeBase
			if seenNode[i] {
				return fmt.Errorf("%w: node %d is reached twice (a cycle?)", ErrFormat, i)
			}
			seenNode[i] = true
			stack = append(stack, c)
		}
	}
	for i, s := range seenNode {
		if !s {
			return fmt.Errorf("%w: node %d is not reached from the root", ErrFormat, i)
		}
	}
	for i, s := range seenLeaf {
		if !s {
			return fmt.Errorf("%w: leaf %d is not reached from the root", ErrFormat, i)
		}
	}
	return nil
}

func fields(b map[string]string, key string, want int) ([]string, error) {
	v, ok := b[key]
	if !ok {
		return nil, fmt.Errorf("%w: no %s", ErrFormat, key)
	}
	f := strings.Fields(v)
	if len(f) != want {
		return nil, fmt.Errorf("%w: %s has %d values, want %d", ErrFormat, key, len(f), want)
	}
	return f, nil
}

func floats(b map[string]string, key string, want int) ([]float64, error) {
	f, err := fields(b, key, want)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(f))
	for i, s := range f {
		if out[i], err = strconv.ParseFloat(s, 64); err != nil {
			return nil, fmt.Errorf("%w: %s value %q is not a number", ErrFormat, key, clip(s))
		}
	}
	return out, nil
}

func ints(b map[string]string, key string, want int) ([]int, error) {
	f, err := fields(b, key, want)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(f))
	for i, s := range f {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < math.MinInt32 || n > math.MaxUint32 {
			return nil, fmt.Errorf("%w: %s value %q is not an integer", ErrFormat, key, clip(s))
		}
		out[i] = int(n)
	}
	return out, nil
}

// clip shortens what an error quotes from the input.
func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
