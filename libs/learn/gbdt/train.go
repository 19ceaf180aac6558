package gbdt

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"

	"github.com/tributary-ml/tributary/libs/learn"
)

// Train fits a gradient-boosted tree ensemble to ds for p.Task. NaN
// features are missing values. A set learn.CheckTraining refuses (empty,
// single class, NaN/Inf or out-of-range labels, infinite features) and bad
// parameters are rejected with a *learn.DataError. Train returns ctx's
// error when ctx ends between two iterations.
func Train(ctx context.Context, ds *learn.Dataset, p Params) (*Model, error) {
	p = p.withDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	k, err := checkDataset(ds, p.Task)
	if err != nil {
		return nil, err
	}
	workers := p.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	t := &trainer{ds: ds, p: p, k: k, workers: workers}
	return t.run(ctx)
}

// checkDataset validates ds for task (learn.CheckTraining) and returns the
// number of raw scores per row: the number of classes for multiclass, else 1.
func checkDataset(ds *learn.Dataset, task learn.Task) (int, error) {
	if err := learn.CheckTraining(ds, task); err != nil {
		return 0, fmt.Errorf("check gbdt training set: %w", err)
	}
	if task == learn.TaskMulticlass {
		return ds.Classes, nil
	}
	if task == learn.TaskRegression {
		// gradients are float32
		for i, y := range ds.Y {
			if math.Abs(y) > maxRegressionLabel {
				return 0, fmt.Errorf("check gbdt training set: %w", learn.NewDataError(learn.ReasonBadLabel,
					"label of row %d is %v, beyond the ±%g a gbdt regression takes", i, y, maxRegressionLabel))
			}
		}
	}
	return 1, nil
}

// maxRegressionLabel bounds regression labels, so gradients fit a float32.
const maxRegressionLabel = 1e37

// trainer holds the state of one Train call.
type trainer struct {
	ds      *learn.Dataset
	p       Params
	k       int // raw scores per row
	workers int

	train, valid []int32     // row ids
	yTrain       []float64   // labels of train rows
	yValid       []float64   // labels of valid rows
	raw          [][]float64 // per output, per train row
	rawValid     [][]float64 // per output, per valid row
	g, h         [][]float32 // per output, per train row
}

func (t *trainer) earlyStopping() bool {
	switch t.p.EarlyStopping {
	case EarlyStoppingOn:
		return true
	case EarlyStoppingOff:
		return false
	}
	return t.ds.Rows > autoEarlyStoppingRows
}

func (t *trainer) run(ctx context.Context) (*Model, error) {
	ds, p, k := t.ds, &t.p, t.k
	t.split()
	if len(t.train) == 0 {
		return nil, learn.NewDataError(learn.ReasonEmpty, "no training rows left after holding out the validation split")
	}
	bn := fitBinner(ds.X, ds.Cols, t.train, p.MaxBins, p.Seed, t.workers)
	codes := bn.transform(ds.X, ds.Cols, t.train, t.workers)
	t.yTrain = gather(ds.Y, t.train)
	t.yValid = gather(ds.Y, t.valid)

	m := &Model{
		task:     p.Task,
		features: ds.FeatureNames(),
		baseline: baseline(p.Task, k, t.yTrain),
		params:   *p,
	}
	if p.Task == learn.TaskMulticlass {
		m.classes = k
	}
	n := len(t.train)
	t.raw, t.g, t.h = make([][]float64, k), make([][]float32, k), make([][]float32, k)
	t.rawValid = make([][]float64, k)
	for c := range k {
		t.raw[c] = fill(make([]float64, n), m.baseline[c])
		t.rawValid[c] = fill(make([]float64, len(t.valid)), m.baseline[c])
		t.g[c] = make([]float32, n)
		t.h[c] = make([]float32, n)
	}
	gr := newGrower(codes, bn, p, t.workers, p.Task == learn.TaskRegression)

	m.fit.TrainRows, m.fit.ValidationRows = len(t.train), len(t.valid)
	var scores []float64 // -validation loss, before the first tree and after each iteration
	if len(t.valid) > 0 {
		scores = append(scores, -t.validLoss())
	}
	for it := 0; it < p.MaxIter; it++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("train gbdt at iteration %d: %w", it, err)
		}
		t.gradients()
		for c := range k {
			nodes := gr.grow(t.g[c], t.h[c])
			tr := tree{nodes: append([]node(nil), nodes...)}
			m.trees = append(m.trees, tr)
			t.addLeaves(c, gr, nodes)
			if len(t.valid) > 0 {
				t.addValid(c, &tr)
			}
		}
		m.iterations++
		if len(t.valid) > 0 {
			scores = append(scores, -t.validLoss())
			if shouldStop(scores, p.NIterNoChange, p.Tol) {
				m.fit.StoppedEarly = it+1 < p.MaxIter
				break
			}
		}
	}
	for _, s := range scores {
		m.fit.ValidationLoss = append(m.fit.ValidationLoss, -s)
	}
	return m, nil
}

// shouldStop is scikit-learn's rule: stop when none of the last n scores
// beats the one before them by more than tol.
func shouldStop(scores []float64, n int, tol float64) bool {
	if len(scores) < n+1 {
		return false
	}
	ref := scores[len(scores)-n-1] + tol
	for _, s := range scores[len(scores)-n:] {
		if s > ref {
			return false
		}
	}
	return true
}

// split sets t.train and t.valid: a seeded validation split (stratified by
// class for classification) when early stopping is on, else all rows.
func (t *trainer) split() {
	n := t.ds.Rows
	if !t.earlyStopping() {
		t.train = make([]int32, n)
		for i := range t.train {
			t.train[i] = int32(i)
		}
		return
	}
	rng := rand.New(rand.NewPCG(t.p.Seed, 0x76616c6964)) // "valid"
	var groups [][]int32
	if t.p.Task == learn.TaskRegression {
		all := make([]int32, n)
		for i := range all {
			all[i] = int32(i)
		}
		groups = [][]int32{all}
	} else {
		groups = make([][]int32, max(t.k, 2))
		for i, y := range t.ds.Y {
			groups[int(y)] = append(groups[int(y)], int32(i))
		}
	}
	isValid := make([]bool, n)
	for _, grp := range groups {
		rng.Shuffle(len(grp), func(i, j int) { grp[i], grp[j] = grp[j], grp[i] })
		nv := int(math.Round(t.p.ValidationFraction * float64(len(grp))))
		for _, i := range grp[:nv] {
			isValid[i] = true
		}
	}
	for i, v := range isValid {
		if v {
			t.valid = append(t.valid, int32(i))
		} else {
			t.train = append(t.train, int32(i))
		}
	}
}

func gather(y []float64, rows []int32) []float64 {
	out := make([]float64, len(rows))
	for j, i := range rows {
		out[j] = y[i]
	}
	return out
}

func fill(s []float64, v float64) []float64 {
	for i := range s {
		s[i] = v
	}
	return s
}

// baseline is the raw score before any tree: the log-odds of the prior for
// binary, the centred log priors for multiclass, the mean for regression.
func baseline(task learn.Task, k int, y []float64) []float64 {
	const eps = 1e-15
	switch task {
	case learn.TaskBinary:
		var s float64
		for _, v := range y {
			s += v
		}
		p := min(max(s/float64(len(y)), eps), 1-eps)
		return []float64{math.Log(p / (1 - p))}
	case learn.TaskMulticlass:
		counts := make([]float64, k)
		for _, v := range y {
			counts[int(v)]++
		}
		out := make([]float64, k)
		var mean float64
		for c := range k {
			out[c] = math.Log(max(counts[c]/float64(len(y)), eps))
			mean += out[c] / float64(k)
		}
		for c := range out {
			out[c] -= mean
		}
		return out
	default:
		var s float64
		for _, v := range y {
			s += v
		}
		return []float64{s / float64(len(y))}
	}
}

// gradients computes the gradients and hessians of the loss at the current
// raw scores: log loss for binary, softmax cross-entropy for multiclass
// (p_c - [y=c] and p_c(1-p_c)), squared error for regression.
func (t *trainer) gradients() {
	y := t.yTrain
	switch t.p.Task {
	case learn.TaskBinary:
		raw, g, h := t.raw[0], t.g[0], t.h[0]
		forRange(t.workers, len(y), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				p := sigmoid(raw[i])
				g[i] = float32(p - y[i])
				h[i] = float32(p * (1 - p))
			}
		})
	case learn.TaskMulticlass:
		k := t.k
		forRange(t.workers, len(y), func(lo, hi int) {
			z := make([]float64, k)
			for i := lo; i < hi; i++ {
				for c := range k {
					z[c] = t.raw[c][i]
				}
				softmax(z)
				for c := range k {
					p := z[c]
					ind := 0.0
					if int(y[i]) == c {
						ind = 1
					}
					t.g[c][i] = float32(p - ind)
					t.h[c][i] = float32(p * (1 - p))
				}
			}
		})
	default:
		raw, g := t.raw[0], t.g[0]
		forRange(t.workers, len(y), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				g[i] = float32(raw[i] - y[i])
			}
		})
	}
}

// addLeaves adds the leaf values of the tree just grown to the raw scores
// of output c of the training rows, by the rows each leaf holds.
func (t *trainer) addLeaves(c int, gr *grower, nodes []node) {
	raw := t.raw[c]
	forRange(t.workers, len(gr.order), func(lo, hi int) {
		for _, l := range gr.leaves {
			a, b := max(l.start, lo), min(l.end, hi)
			if a >= b {
				continue
			}
			v := nodes[l.node].value
			for _, i := range gr.order[a:b] {
				raw[i] += v
			}
		}
	})
}

// addValid adds tree tr's output to the validation rows' raw scores of
// output c, predicting from the raw feature values like serving does.
func (t *trainer) addValid(c int, tr *tree) {
	raw, x, cols := t.rawValid[c], t.ds.X, t.ds.Cols
	forRange(t.workers, len(t.valid), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			i := int(t.valid[j])
			raw[j] += tr.eval(x[i*cols : i*cols+cols])
		}
	})
}

// lossChunk is the number of rows summed together before partial sums are
// added in order, so the loss does not depend on the number of workers.
const lossChunk = 8192

// validLoss is the mean loss on the validation rows: half binomial
// deviance, multinomial cross-entropy or half squared error (scikit-learn's
// losses, so Tol means the same).
func (t *trainer) validLoss() float64 {
	n := len(t.valid)
	y, k := t.yValid, t.k
	parts := make([]float64, (n+lossChunk-1)/lossChunk)
	forEach(t.workers, len(parts), func(c int) {
		var s float64
		for i := c * lossChunk; i < min(n, (c+1)*lossChunk); i++ {
			s += rowLoss(t.p.Task, t.rawValid, k, i, y[i])
		}
		parts[c] = s
	})
	var s float64
	for _, v := range parts {
		s += v
	}
	return s / float64(n)
}

func rowLoss(task learn.Task, raw [][]float64, k, i int, y float64) float64 {
	switch task {
	case learn.TaskBinary:
		z := raw[0][i]
		// log(1+exp(z)) - y z, stable for large |z|
		return max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) - y*z
	case learn.TaskMulticlass:
		m := raw[0][i]
		for c := 1; c < k; c++ {
			m = max(m, raw[c][i])
		}
		var s float64
		for c := range k {
			s += math.Exp(raw[c][i] - m)
		}
		return m + math.Log(s) - raw[int(y)][i]
	default:
		d := raw[0][i] - y
		return 0.5 * d * d
	}
}
