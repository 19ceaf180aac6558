package xgboost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/tributary-ml/tributary/libs/learn"
)

// The JSON document, as far as prediction needs it.
type jsonDoc struct {
	Learner *struct {
		FeatureNames    []string        `json:"feature_names"`
		FeatureTypes    []string        `json:"feature_types"`
		GradientBooster json.RawMessage `json:"gradient_booster"`
		ModelParam      struct {
			BaseScore  string `json:"base_score"`
			NumClass   string `json:"num_class"`
			NumFeature string `json:"num_feature"`
			NumTarget  string `json:"num_target"`
		} `json:"learner_model_param"`
		Objective struct {
			Name string `json:"name"`
		} `json:"objective"`
	} `json:"learner"`
	Version []int `json:"version"`
}

type jsonBooster struct {
	Name  string       `json:"name"`
	Model *jsonGBTree  `json:"model"` // gbtree (and dart from 3.x on)
	Inner *jsonBooster `json:"gbtree"`
	// dart up to 2.x keeps its weights beside the inner gbtree.
	WeightDrop floats `json:"weight_drop"`
}

type jsonGBTree struct {
	Trees      []jsonTree `json:"trees"`
	TreeInfo   []int      `json:"tree_info"`
	WeightDrop floats     `json:"weight_drop"` // dart from 3.x on
}

type jsonTree struct {
	TreeParam struct {
		NumNodes       string `json:"num_nodes"`
		SizeLeafVector string `json:"size_leaf_vector"`
	} `json:"tree_param"`
	LeftChildren       []int64 `json:"left_children"`
	RightChildren      []int64 `json:"right_children"`
	SplitIndices       []int64 `json:"split_indices"`
	SplitConditions    floats  `json:"split_conditions"`
	DefaultLeft        flags   `json:"default_left"`
	SplitType          []int64 `json:"split_type"`
	Categories         []int64 `json:"categories"`
	CategoriesNodes    []int64 `json:"categories_nodes"`
	CategoriesSegments []int64 `json:"categories_segments"`
	CategoriesSizes    []int64 `json:"categories_sizes"`
}

// flags is default_left: a list of booleans (XGBoost 1.x) or of 0/1
// integers (later versions).
type flags []bool

func (f *flags) UnmarshalJSON(b []byte) error {
	var bools []bool
	if err := json.Unmarshal(b, &bools); err == nil {
		*f = bools
		return nil
	}
	var ints []int64
	if err := json.Unmarshal(b, &ints); err != nil {
		return fmt.Errorf("default_left is neither booleans nor integers")
	}
	*f = make([]bool, len(ints))
	for i, v := range ints {
		if v != 0 && v != 1 {
			return fmt.Errorf("default_left value %d is not 0 or 1", v)
		}
		(*f)[i] = v == 1
	}
	return nil
}

// floats is a list of float32 that may hold NaN and ±Infinity, which
// XGBoost writes (as the bare tokens NaN, Infinity and -Infinity that
// quoteNonFinite turns into strings).
type floats []float32

func (f *floats) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return fmt.Errorf("not a list of numbers")
	}
	body := bytes.TrimSpace(b[1 : len(b)-1])
	if len(body) == 0 {
		*f = floats{}
		return nil
	}
	out := make(floats, 0, bytes.Count(body, []byte{','})+1)
	for _, tok := range bytes.Split(body, []byte{','}) {
		var v float64
		switch s := string(bytes.TrimSpace(tok)); s {
		case `"NaN"`:
			v = math.NaN()
		case `"Infinity"`:
			v = math.Inf(1)
		case `"-Infinity"`:
			v = math.Inf(-1)
		default:
			var err error
			if v, err = strconv.ParseFloat(s, 32); err != nil {
				return fmt.Errorf("%q is not a float32", clip(s))
			}
		}
		out = append(out, float32(v))
	}
	*f = out
	return nil
}

// quoteNonFinite rewrites the bare NaN, Infinity and -Infinity that
// XGBoost's JSON writer emits (not JSON) into strings.
func quoteNonFinite(b []byte) []byte {
	var out []byte
	inString, escaped, last := false, false, 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			continue
		}
		for _, tok := range [...]string{"NaN", "Infinity", "-Infinity"} {
			if c == tok[0] && bytes.HasPrefix(b[i:], []byte(tok)) {
				out = append(out, b[last:i]...)
				out = append(out, '"')
				out = append(out, tok...)
				out = append(out, '"')
				i += len(tok) - 1
				last = i + 1
				break
			}
		}
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// Parse reads an XGBoost JSON model from r.
func Parse(r io.Reader) (*Model, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read xgboost model: %w", err)
	}
	return ParseBytes(b)
}

// ParseBytes is Parse over a model held in memory.
func ParseBytes(b []byte) (*Model, error) {
	if isUBJSON(b) {
		return nil, fmt.Errorf("%w: UBJSON (save the model with a .json name)", ErrUnsupported)
	}
	var doc jsonDoc
	if err := json.Unmarshal(quoteNonFinite(b), &doc); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, fmt.Errorf("%w: not a complete JSON document (the legacy binary format is not read): %v", ErrFormat, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return build(&doc, catBudget+4*len(b))
}

// isUBJSON tells XGBoost's UBJSON (an object whose first key is
// length-prefixed: {L<8 bytes>learner or {i<1 byte>learner) from JSON.
func isUBJSON(b []byte) bool {
	if len(b) < 2 || b[0] != '{' || !bytes.ContainsRune([]byte("iUIlL"), rune(b[1])) {
		return false
	}
	head := b[:min(len(b), 24)]
	return bytes.Contains(head, []byte("learner")) || bytes.Contains(head, []byte("version"))
}

// catBudget bounds the words of categorical bitsets beyond 4 per input byte:
// a category id of a few bytes can otherwise ask for a bitset of megabytes.
const catBudget = 1 << 20

func build(doc *jsonDoc, catWords int) (*Model, error) {
	l := doc.Learner
	if l == nil {
		return nil, fmt.Errorf("%w: no learner object", ErrFormat)
	}
	m := &Model{objective: l.Objective.Name}
	if len(doc.Version) != 3 {
		return nil, fmt.Errorf("%w: version %v is not [major, minor, patch]", ErrFormat, doc.Version)
	}
	m.version = fmt.Sprintf("%d.%d.%d", doc.Version[0], doc.Version[1], doc.Version[2])
	p := l.ModelParam
	numFeature, err := count("learner_model_param.num_feature", p.NumFeature, 0)
	if err != nil {
		return nil, err
	}
	numClass, err := count("learner_model_param.num_class", p.NumClass, 0)
	if err != nil {
		return nil, err
	}
	numTarget, err := count("learner_model_param.num_target", p.NumTarget, 1)
	if err != nil {
		return nil, err
	}
	if numTarget != 1 {
		return nil, fmt.Errorf("%w: %d targets (multi-target models)", ErrUnsupported, numTarget)
	}
	if err := m.setObjective(numClass); err != nil {
		return nil, err
	}
	if err := m.setFeatures(l.FeatureNames, l.FeatureTypes, numFeature); err != nil {
		return nil, err
	}
	if err := m.setBase(p.BaseScore); err != nil {
		return nil, err
	}
	gb, err := booster(l.GradientBooster)
	if err != nil {
		return nil, err
	}
	m.booster = gb.Name
	trees := gb.Model
	weights := trees.WeightDrop
	if gb.Name == "dart" {
		weights = gb.WeightDrop
	}
	if len(trees.TreeInfo) != len(trees.Trees) {
		return nil, fmt.Errorf("%w: tree_info has %d entries for %d trees", ErrFormat, len(trees.TreeInfo), len(trees.Trees))
	}
	if weights != nil {
		if len(weights) != len(trees.Trees) {
			return nil, fmt.Errorf("%w: weight_drop has %d entries for %d trees", ErrFormat, len(weights), len(trees.Trees))
		}
		m.weights = weights
	}
	for i := range trees.Trees {
		g := trees.TreeInfo[i]
		if g < 0 || g >= m.outputs {
			return nil, fmt.Errorf("%w: tree %d is for output %d of %d", ErrFormat, i, g, m.outputs)
		}
		if err := m.addTree(&trees.Trees[i], catWords); err != nil {
			return nil, fmt.Errorf("tree %d: %w", i, err)
		}
		m.groups = append(m.groups, int32(g))
	}
	return m, nil
}

func booster(raw json.RawMessage) (*jsonBooster, error) {
	if raw == nil {
		return nil, fmt.Errorf("%w: no gradient_booster", ErrFormat)
	}
	var gb jsonBooster
	if err := json.Unmarshal(raw, &gb); err != nil {
		return nil, fmt.Errorf("%w: gradient_booster: %v", ErrFormat, err)
	}
	switch gb.Name {
	case "gbtree":
	case "dart":
		if gb.Inner == nil {
			return nil, fmt.Errorf("%w: dart booster without its gbtree", ErrFormat)
		}
		gb.Model = gb.Inner.Model
	case "gblinear":
		return nil, fmt.Errorf("%w: booster gblinear", ErrUnsupported)
	default:
		return nil, fmt.Errorf("%w: booster %q", ErrUnsupported, clip(gb.Name))
	}
	if gb.Model == nil {
		return nil, fmt.Errorf("%w: %s booster without a model", ErrFormat, gb.Name)
	}
	return &gb, nil
}

// count parses one of the learner's numeric parameters, which XGBoost writes
// as strings.
func count(what, s string, dflt int) (int, error) {
	if s == "" {
		return dflt, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= 1<<24 {
		return 0, fmt.Errorf("%w: %s %q is not a count", ErrFormat, what, clip(s))
	}
	return n, nil
}

func (m *Model) setObjective(numClass int) error {
	m.outputs, m.task = 1, learn.TaskRegression
	switch m.objective {
	case "binary:logistic":
		m.transform, m.task = logistic, learn.TaskBinary
	case "reg:logistic":
		m.transform = logistic
	case "reg:squarederror", "reg:linear", "reg:squaredlogerror", "reg:pseudohubererror",
		"reg:absoluteerror", "reg:quantileerror":
		m.transform = identity
	case "count:poisson", "reg:gamma", "reg:tweedie":
		m.transform = exponential
	case "multi:softprob", "multi:softmax":
		if numClass < 2 {
			return fmt.Errorf("%w: objective %s with num_class %d", ErrFormat, m.objective, numClass)
		}
		m.transform, m.task, m.outputs = softmax, learn.TaskMulticlass, numClass
	case "":
		return fmt.Errorf("%w: no objective", ErrFormat)
	default:
		return fmt.Errorf("%w: objective %q", ErrUnsupported, clip(m.objective))
	}
	if m.task != learn.TaskMulticlass && numClass > 1 {
		return fmt.Errorf("%w: objective %s with num_class %d", ErrFormat, m.objective, numClass)
	}
	return nil
}

func (m *Model) setFeatures(names, types []string, n int) error {
	if n == 0 {
		return fmt.Errorf("%w: num_feature is 0", ErrFormat)
	}
	switch len(names) {
	case 0:
		m.features = make([]string, n)
		for i := range m.features {
			m.features[i] = "f" + strconv.Itoa(i)
		}
	case n:
		m.features = names
	default:
		return fmt.Errorf("%w: %d feature_names for num_feature %d", ErrFormat, len(names), n)
	}
	if len(types) != 0 && len(types) != n {
		return fmt.Errorf("%w: %d feature_types for num_feature %d", ErrFormat, len(types), n)
	}
	m.featureTypes = types
	return nil
}

// setBase reads base_score (a number, or from 3.1 on a vector "[v1,v2,...]"
// of one value or one per output) and turns it into the margin each output
// starts from. base_score is in the output space: logistic objectives keep
// a probability (the margin is its logit), log-link ones a mean (the margin
// is its log).
func (m *Model) setBase(s string) error {
	s = strings.TrimSpace(s)
	var parts []string
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		parts = strings.Split(s[1:len(s)-1], ",")
	} else {
		parts = []string{s}
	}
	if len(parts) != 1 && len(parts) != m.outputs {
		return fmt.Errorf("%w: base_score %q has %d values for %d outputs", ErrFormat, clip(s), len(parts), m.outputs)
	}
	m.base = make([]float32, m.outputs)
	for k := range m.base {
		p := parts[0]
		if len(parts) > 1 {
			p = parts[k]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: base_score %q is not a number", ErrFormat, clip(s))
		}
		b := float32(v)
		switch m.transform {
		case logistic:
			if !(b > 0 && b < 1) {
				return fmt.Errorf("%w: base_score %v of a logistic objective is not in (0, 1)", ErrFormat, b)
			}
			b = float32(-math.Log(float64(1/b - 1)))
		case exponential:
			if !(b > 0) {
				return fmt.Errorf("%w: base_score %v of a log-link objective is not positive", ErrFormat, b)
			}
			b = float32(math.Log(float64(b)))
		}
		m.base[k] = b
	}
	return nil
}

// addTree appends one tree, checking every index, and that no node is
// reached twice from the root (so prediction always ends at a leaf; nodes
// not reached at all are deleted ones and harmless).
func (m *Model) addTree(t *jsonTree, catWords int) error {
	n := len(t.LeftChildren)
	if n == 0 {
		return fmt.Errorf("%w: no nodes", ErrFormat)
	}
	if s := t.TreeParam.NumNodes; s != "" && s != strconv.Itoa(n) {
		return fmt.Errorf("%w: num_nodes %q for %d nodes", ErrFormat, clip(s), n)
	}
	if s := t.TreeParam.SizeLeafVector; s != "" && s != "0" && s != "1" {
		return fmt.Errorf("%w: leaf vectors of size %s (multi-target trees)", ErrUnsupported, clip(s))
	}
	for name, l := range map[string]int{
		"right_children":   len(t.RightChildren),
		"split_indices":    len(t.SplitIndices),
		"split_conditions": len(t.SplitConditions),
		"default_left":     len(t.DefaultLeft),
	} {
		if l != n {
			return fmt.Errorf("%w: %s has %d entries for %d nodes", ErrFormat, name, l, n)
		}
	}
	if t.SplitType != nil && len(t.SplitType) != n {
		return fmt.Errorf("%w: split_type has %d entries for %d nodes", ErrFormat, len(t.SplitType), n)
	}
	base := len(m.nodes)
	if base+n > math.MaxInt32 {
		return fmt.Errorf("%w: too many nodes", ErrUnsupported)
	}
	for i := 0; i < n; i++ {
		nd := node{cond: t.SplitConditions[i], left: -1, right: -1, defaultLeft: t.DefaultLeft[i]}
		l, r := t.LeftChildren[i], t.RightChildren[i]
		switch {
		case l == -1 && r == -1:
			if math.IsNaN(float64(nd.cond)) {
				return fmt.Errorf("%w: node %d: leaf value NaN", ErrFormat, i)
			}
		case l > 0 && l < int64(n) && r > 0 && r < int64(n) && l != r:
			nd.left, nd.right = int32(base)+int32(l), int32(base)+int32(r)
			f := t.SplitIndices[i]
			if f < 0 || f >= int64(len(m.features)) {
				return fmt.Errorf("%w: node %d splits on feature %d of %d", ErrFormat, i, f, len(m.features))
			}
			nd.feature = int32(f)
			if t.SplitType != nil {
				switch t.SplitType[i] {
				case 0:
				case 1:
					nd.categorical = true
				default:
					return fmt.Errorf("%w: node %d: split_type %d", ErrFormat, i, t.SplitType[i])
				}
			}
		default:
			return fmt.Errorf("%w: node %d has children %d and %d", ErrFormat, i, l, r)
		}
		m.nodes = append(m.nodes, nd)
	}
	if err := m.addCategories(t, base, n, catWords); err != nil {
		return err
	}
	if err := checkTree(m.nodes[base:], base); err != nil {
		return err
	}
	m.roots = append(m.roots, int32(base))
	return nil
}

// addCategories builds the bitsets of the tree's categorical splits from
// categories_nodes, categories_segments, categories_sizes and categories.
func (m *Model) addCategories(t *jsonTree, base, n, budget int) error {
	k := len(t.CategoriesNodes)
	if len(t.CategoriesSegments) != k || len(t.CategoriesSizes) != k {
		return fmt.Errorf("%w: categories_nodes, _segments and _sizes have %d, %d and %d entries",
			ErrFormat, k, len(t.CategoriesSegments), len(t.CategoriesSizes))
	}
	have := make(map[int64]bool, k)
	for j := 0; j < k; j++ {
		id, seg, size := t.CategoriesNodes[j], t.CategoriesSegments[j], t.CategoriesSizes[j]
		if id < 0 || id >= int64(n) || !m.nodes[base+int(id)].categorical || have[id] {
			return fmt.Errorf("%w: categories_nodes entry %d is not a categorical split", ErrFormat, id)
		}
		have[id] = true
		if seg < 0 || size < 0 || seg > int64(len(t.Categories)) || size > int64(len(t.Categories))-seg {
			return fmt.Errorf("%w: node %d: categories segment %d+%d beyond %d categories", ErrFormat, id, seg, size, len(t.Categories))
		}
		cats := t.Categories[seg : seg+size]
		var hi int64 = -1
		for _, c := range cats {
			if c < 0 || c >= maxCat {
				return fmt.Errorf("%w: node %d: category %d out of range", ErrFormat, id, c)
			}
			hi = max(hi, c)
		}
		words := (hi + 32) / 32 // enough for category hi; 0 when there is none
		start := len(m.catBits)
		if int64(start)+words > int64(budget) {
			return fmt.Errorf("%w: categorical splits need bitsets of more than %d words (category ids up to %d)", ErrUnsupported, budget, hi)
		}
		m.catBits = append(m.catBits, make([]uint32, words)...)
		for _, c := range cats {
			m.catBits[start+int(c/32)] |= 1 << (c % 32)
		}
		nd := &m.nodes[base+int(id)]
		nd.catStart, nd.catWords = uint32(start), uint32(words)
	}
	for i := base; i < base+n; i++ {
		if m.nodes[i].categorical && !have[int64(i-base)] {
			return fmt.Errorf("%w: categorical split %d has no categories entry", ErrFormat, i-base)
		}
	}
	return nil
}

func checkTree(nodes []node, base int) error {
	seen := make([]bool, len(nodes))
	seen[0] = true
	stack := []int{0}
	for len(stack) > 0 {
		nd := nodes[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		if nd.left < 0 {
			continue
		}
		for _, c := range [2]int32{nd.left, nd.right} {
			i := int(c) - base
			if seen[i] {
				return fmt.Errorf("%w: node %d is reached twice (a cycle?)", ErrFormat, i)
			}
			seen[i] = true
			stack = append(stack, i)
		}
	}
	return nil
}

// clip shortens what an error quotes from the input.
func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
