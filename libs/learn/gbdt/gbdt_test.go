package gbdt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
)

// stump is a one-tree, two-leaf model with every row allowed in a leaf.
func stump(task learn.Task) Params {
	p := DefaultParams(task)
	p.MaxIter, p.MaxLeaves, p.MinSamplesLeaf, p.LearningRate = 1, 2, 1, 1
	return p
}

func mustTrain(t *testing.T, ds *learn.Dataset, p Params) *Model {
	t.Helper()
	m, err := Train(context.Background(), ds, p)
	if err != nil {
		t.Fatalf("train: %v", err)
	}
	return m
}

func predict1(m *Model, x ...float64) float64 {
	out := make([]float64, m.Outputs())
	m.Predict(x, out)
	return out[0]
}

// TestObviousSplit: y is 10 above x0 = 50 and 0 below, x1 is noise; one
// stump must split x0 at the midpoint 50.5 and predict 0 and 10 exactly.
func TestObviousSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ds := &learn.Dataset{Rows: 100, Cols: 2}
	for i := range 100 {
		x := float64(i + 1)
		y := 0.0
		if x > 50 {
			y = 10
		}
		ds.X = append(ds.X, x, rng.Float64())
		ds.Y = append(ds.Y, y)
	}
	m := mustTrain(t, ds, stump(learn.TaskRegression))
	root := m.trees[0].nodes[0]
	if root.feature != 0 || root.threshold != 50.5 {
		t.Fatalf("root splits feature %d at %v, want feature 0 at 50.5", root.feature, root.threshold)
	}
	for _, c := range []struct{ x, want float64 }{{1, 0}, {50, 0}, {50.5, 0}, {50.6, 10}, {100, 10}, {1e9, 10}} {
		if got := predict1(m, c.x, 0.5); got != c.want {
			t.Errorf("predict(%v) = %v, want %v", c.x, got, c.want)
		}
	}
}

// TestMissingDirectionLearned: the rows whose x0 is missing behave like the
// high rows in one set and like the low rows in the other; the split must
// learn to send NaN to that side, in training and at prediction.
func TestMissingDirectionLearned(t *testing.T) {
	for _, c := range []struct {
		name      string
		missingY  float64
		wantLeft  bool
		wantValue float64
	}{
		{"missing like high", 10, false, 10},
		{"missing like low", 0, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			ds := &learn.Dataset{Cols: 1}
			for i := range 300 {
				x, y := float64(i%100), 0.0
				if x >= 50 {
					y = 10
				}
				if i%3 == 0 {
					x, y = math.NaN(), c.missingY
				}
				ds.X, ds.Y = append(ds.X, x), append(ds.Y, y)
				ds.Rows++
			}
			m := mustTrain(t, ds, stump(learn.TaskRegression))
			root := m.trees[0].nodes[0]
			if root.defaultLeft != c.wantLeft {
				t.Errorf("default left %v, want %v", root.defaultLeft, c.wantLeft)
			}
			// float32 gradients: exact to about 1e-7
			if got := predict1(m, math.NaN()); math.Abs(got-c.wantValue) > 1e-5 {
				t.Errorf("predict(NaN) = %v, want %v", got, c.wantValue)
			}
			if got := predict1(m, 10); math.Abs(got) > 1e-5 {
				t.Errorf("predict(10) = %v, want 0", got)
			}
		})
	}
}

// TestMissingUnseenGoesToLargerChild: with no missing values in training,
// a NaN at prediction follows the child that held more rows.
func TestMissingUnseenGoesToLargerChild(t *testing.T) {
	ds := &learn.Dataset{Cols: 1}
	for i := range 100 {
		x, y := float64(i), 0.0
		if i >= 80 {
			y = 10
		}
		ds.X, ds.Y = append(ds.X, x), append(ds.Y, y)
		ds.Rows++
	}
	m := mustTrain(t, ds, stump(learn.TaskRegression))
	if got := predict1(m, math.NaN()); got != 0 {
		t.Errorf("predict(NaN) = %v, want 0 (the 80-row child)", got)
	}
}

// TestBinsMatchThresholds: a value falls into a bin <= b exactly when it is
// <= the threshold stored for a split at b, so the binned training and the
// raw-value prediction agree.
func TestBinsMatchThresholds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vals := make([]float64, 5000)
	for i := range vals {
		vals[i] = math.Round(rng.NormFloat64()*1000) / 10 // many ties
	}
	edges := quantileEdges(append([]float64(nil), vals...), maxBins)
	if len(edges) > maxBins-1 {
		t.Fatalf("%d edges, want at most %d", len(edges), maxBins-1)
	}
	for _, v := range append(vals, edges...) {
		bin := binOf(edges, v)
		for b := range edges {
			if (int(bin) <= b) != (v <= edges[b]) {
				t.Fatalf("value %v in bin %d, but edge %d is %v", v, bin, b, edges[b])
			}
		}
	}
}

// TestTrainingScoresMatchPredict: the raw scores training keeps on binned
// rows equal, bit for bit, what Predict computes from the raw values.
func TestTrainingScoresMatchPredict(t *testing.T) {
	for _, task := range []learn.Task{learn.TaskBinary, learn.TaskMulticlass, learn.TaskRegression} {
		t.Run(string(task), func(t *testing.T) {
			ds := synth(task, 3000, 8, 5, 0.2)
			p := DefaultParams(task).withDefaults()
			p.MaxIter = 10
			k, err := checkDataset(ds, task)
			if err != nil {
				t.Fatal(err)
			}
			tr := &trainer{ds: ds, p: p, k: k, workers: 2}
			m, err := tr.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float64, k)
			for j, i := range tr.train {
				m.PredictRaw(ds.Row(int(i)), out)
				for c := range k {
					if out[c] != tr.raw[c][j] {
						t.Fatalf("row %d output %d: predict %v, training %v", i, c, out[c], tr.raw[c][j])
					}
				}
			}
		})
	}
}

func encode(t *testing.T, m *Model) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeterministic: the same data, parameters and seed give a
// byte-identical model, whatever the number of workers.
func TestDeterministic(t *testing.T) {
	// > 10k rows: early stopping, seeded split; > 65536 training rows:
	// partitions split across workers
	ds := synth(learn.TaskBinary, 80000, 10, 9, 0.1)
	var first []byte
	for _, workers := range []int{2, 2, 1, 3} {
		p := DefaultParams(learn.TaskBinary)
		p.Seed, p.Workers, p.MaxIter = 42, workers, 15
		b := encode(t, mustTrain(t, ds, p))
		if first == nil {
			first = b
			continue
		}
		if !bytes.Equal(b, first) {
			t.Fatalf("model with %d workers differs from the first", workers)
		}
	}
	p := DefaultParams(learn.TaskBinary)
	p.Seed, p.MaxIter = 43, 15
	if bytes.Equal(encode(t, mustTrain(t, ds, p)), first) {
		t.Error("another seed (another validation split) gave the same model")
	}
}

// TestRoundTrip: a decoded model predicts exactly what the trained one
// does, on rows with missing values too, and encodes to the same bytes.
func TestRoundTrip(t *testing.T) {
	for _, task := range []learn.Task{learn.TaskBinary, learn.TaskMulticlass, learn.TaskRegression} {
		t.Run(string(task), func(t *testing.T) {
			ds := synth(task, 4000, 6, 11, 0.15)
			ds.Features = []string{"a", "b", "c", "d", "e", "f"}
			p := DefaultParams(task)
			p.MaxIter = 20
			m := mustTrain(t, ds, p)
			b := encode(t, m)
			got, err := Decode(m.Info(), b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(encode(t, got), b) {
				t.Error("re-encoded model differs")
			}
			want, have := learn.PredictAll(m, ds), learn.PredictAll(got, ds)
			for i := range want {
				if want[i] != have[i] {
					t.Fatalf("prediction %d: %v after the round trip, %v before", i, have[i], want[i])
				}
			}
			if got.Iterations() != m.Iterations() || got.Task() != task || strings.Join(got.Features(), ",") != "a,b,c,d,e,f" {
				t.Errorf("decoded %d iterations, task %s, features %v", got.Iterations(), got.Task(), got.Features())
			}
		})
	}
}

// TestMulticlass: one tree per class and iteration, probabilities that sum
// to 1 and a holdout macro AUC far above chance.
func TestMulticlass(t *testing.T) {
	ds := synth(learn.TaskMulticlass, 12000, 8, 13, 0.05)
	tr, ho := subset(ds, 0, 10000), subset(ds, 10000, 12000)
	p := DefaultParams(learn.TaskMulticlass)
	p.EarlyStopping = EarlyStoppingOff
	p.MaxIter = 50
	m := mustTrain(t, tr, p)
	if len(m.trees) != 3*m.Iterations() || m.Outputs() != 3 {
		t.Fatalf("%d trees, %d outputs for %d iterations", len(m.trees), m.Outputs(), m.Iterations())
	}
	pred := learn.PredictAll(m, ho)
	for i := 0; i < len(pred); i += 3 {
		if s := pred[i] + pred[i+1] + pred[i+2]; math.Abs(s-1) > 1e-12 {
			t.Fatalf("row %d probabilities sum to %v", i/3, s)
		}
	}
	ev, err := learn.Evaluate(m, ho, learn.TaskMulticlass)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("macro AUC %.4f, accuracy %.4f", ev.AUC, ev.Accuracy)
	if ev.AUC < 0.95 {
		t.Errorf("macro AUC %.4f, want at least 0.95", ev.AUC)
	}
}

// TestEarlyStopping: on pure noise the validation loss stops improving and
// training ends long before max_iter; without early stopping it does not.
func TestEarlyStopping(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ds := &learn.Dataset{Rows: 5000, Cols: 4}
	for range ds.Rows {
		ds.X = append(ds.X, rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64())
		ds.Y = append(ds.Y, float64(rng.IntN(2)))
	}
	p := DefaultParams(learn.TaskBinary)
	p.MaxIter = 200
	if m := mustTrain(t, ds, p); m.Iterations() != 200 {
		t.Errorf("auto early stopping on 5000 rows ran %d iterations, want 200 (off below 10k rows)", m.Iterations())
	}
	p.EarlyStopping = EarlyStoppingOn
	m := mustTrain(t, ds, p)
	if m.Iterations() >= 50 {
		t.Errorf("early stopping on noise ran %d iterations, want fewer than 50", m.Iterations())
	}
	fit := m.Fit()
	if !fit.StoppedEarly || fit.ValidationRows != 500 || fit.TrainRows != 4500 || len(fit.ValidationLoss) != m.Iterations()+1 {
		t.Errorf("fit %+v after %d iterations", fit, m.Iterations())
	}
}

// TestParamsValidate: a train request that sets only the task is valid;
// the trainer can check a request before it trains.
func TestParamsValidate(t *testing.T) {
	if err := (Params{Task: learn.TaskBinary}).Validate(); err != nil {
		t.Errorf("only the task: %v", err)
	}
	if err := (Params{Task: learn.TaskBinary, MaxLeaves: 1}).Validate(); !errors.Is(err, learn.ErrBadParam) {
		t.Errorf("max_leaves 1: %v, want bad_param", err)
	}
	var p Params
	if err := json.Unmarshal([]byte(`{"task":"regression","max_iter":50,"l2":1.5,"early_stopping":"off"}`), &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil || p.MaxIter != 50 || p.L2 != 1.5 || p.EarlyStopping != EarlyStoppingOff {
		t.Errorf("decoded %+v, validate %v", p, err)
	}
}

func TestShouldStop(t *testing.T) {
	for _, c := range []struct {
		scores []float64
		want   bool
	}{
		{[]float64{-1, -0.9}, false},                // too few
		{[]float64{-1, -0.9, -0.9}, false},          // n=2: -0.9 beats -1
		{[]float64{-1, -0.9, -0.95, -0.9}, true},    // no improvement over -0.9
		{[]float64{-1, -0.9, -0.95, -0.899}, false}, // improvement above tol
	} {
		if got := shouldStop(c.scores, 2, 1e-7); got != c.want {
			t.Errorf("shouldStop(%v) = %v, want %v", c.scores, got, c.want)
		}
	}
}

// TestBadInput: the training set and parameter errors are typed, with the
// shared reasons of learn.
func TestBadInput(t *testing.T) {
	good := func() *learn.Dataset { return synth(learn.TaskBinary, 200, 5, 1, 0.1) }
	for _, c := range []struct {
		name   string
		task   learn.Task
		modify func(*learn.Dataset, *Params)
		want   error
	}{
		{"empty", learn.TaskBinary, func(d *learn.Dataset, _ *Params) { *d = learn.Dataset{Cols: 3} }, learn.ErrEmpty},
		{"single class", learn.TaskBinary, func(d *learn.Dataset, _ *Params) {
			for i := range d.Y {
				d.Y[i] = 1
			}
		}, learn.ErrSingleClass},
		{"NaN label", learn.TaskRegression, func(d *learn.Dataset, _ *Params) { d.Y[7] = math.NaN() }, learn.ErrBadLabel},
		{"Inf label", learn.TaskRegression, func(d *learn.Dataset, _ *Params) { d.Y[7] = math.Inf(-1) }, learn.ErrBadLabel},
		{"regression label beyond float32", learn.TaskRegression, func(d *learn.Dataset, _ *Params) { d.Y[3] = 1e38 }, learn.ErrBadLabel},
		{"label 2 for binary", learn.TaskBinary, func(d *learn.Dataset, _ *Params) { d.Y[3] = 2 }, learn.ErrBadLabel},
		{"Inf feature", learn.TaskBinary, func(d *learn.Dataset, _ *Params) { d.X[10] = math.Inf(1) }, learn.ErrBadFeature},
		{"multiclass without classes", learn.TaskMulticlass, func(d *learn.Dataset, _ *Params) {}, learn.ErrShape},
		{"unknown task", "ranking", func(*learn.Dataset, *Params) {}, learn.ErrBadTask},
		{"negative learning rate", learn.TaskBinary, func(_ *learn.Dataset, p *Params) { p.LearningRate = -1 }, learn.ErrBadParam},
		{"one leaf", learn.TaskBinary, func(_ *learn.Dataset, p *Params) { p.MaxLeaves = 1 }, learn.ErrBadParam},
		{"256 bins", learn.TaskBinary, func(_ *learn.Dataset, p *Params) { p.MaxBins = 256 }, learn.ErrBadParam},
		{"validation fraction 1", learn.TaskBinary, func(_ *learn.Dataset, p *Params) { p.ValidationFraction = 1 }, learn.ErrBadParam},
		{"early stopping maybe", learn.TaskBinary, func(_ *learn.Dataset, p *Params) { p.EarlyStopping = "maybe" }, learn.ErrBadParam},
	} {
		t.Run(c.name, func(t *testing.T) {
			ds, p := good(), DefaultParams(c.task)
			c.modify(ds, &p)
			m, err := Train(context.Background(), ds, p)
			if !errors.Is(err, c.want) || m != nil {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
}

// TestNaNFeaturesTrain: an all-missing column and NaNs elsewhere are fine.
func TestNaNFeaturesTrain(t *testing.T) {
	ds := synth(learn.TaskBinary, 2000, 5, 3, 0.3)
	for i := range ds.Rows {
		ds.X[i*5+2] = math.NaN()
	}
	m := mustTrain(t, ds, DefaultParams(learn.TaskBinary))
	if p := predict1(m, math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()); !(p > 0 && p < 1) {
		t.Errorf("P(y=1) for an all-missing row = %v", p)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Train(ctx, synth(learn.TaskBinary, 500, 5, 1, 0), DefaultParams(learn.TaskBinary))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// TestPredictDoesNotAllocate: serving calls Predict per request.
func TestPredictDoesNotAllocate(t *testing.T) {
	ds := synth(learn.TaskMulticlass, 3000, 8, 2, 0.1)
	p := DefaultParams(learn.TaskMulticlass)
	p.MaxIter = 10
	m := mustTrain(t, ds, p)
	out := make([]float64, m.Outputs())
	row := ds.Row(5)
	if n := testing.AllocsPerRun(100, func() { m.Predict(row, out) }); n != 0 {
		t.Errorf("Predict allocates %v times per call", n)
	}
}

// TestDecodeRejectsInvalid: model files that would mispredict or crash are
// refused with ErrInvalidModel.
func TestDecodeRejectsInvalid(t *testing.T) {
	ds := synth(learn.TaskRegression, 500, 5, 1, 0)
	p := stump(learn.TaskRegression)
	p.MaxIter = 2
	good := encode(t, mustTrain(t, ds, p))
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	tree0 := func(m map[string]any) map[string]any { return m["trees"].([]any)[0].(map[string]any) }
	info := mustTrain(t, ds, p).Info()
	for _, c := range []struct {
		name string
		info func(learn.ModelInfo) learn.ModelInfo
		data []byte
	}{
		{"not json", nil, []byte("{")},
		{"unknown field", nil, edit(func(m map[string]any) { m["extra"] = 1 })},
		{"missing tree", nil, edit(func(m map[string]any) { m["trees"] = m["trees"].([]any)[:1] })},
		{"child loop", nil, edit(func(m map[string]any) { tree0(m)["left"].([]any)[0] = 0 })},
		{"child out of range", nil, edit(func(m map[string]any) { tree0(m)["right"].([]any)[0] = 99 })},
		{"feature out of range", nil, edit(func(m map[string]any) { tree0(m)["feature"].([]any)[0] = 5 })},
		{"short arrays", nil, edit(func(m map[string]any) { tree0(m)["value"] = []any{0} })},
		{"baseline count", nil, edit(func(m map[string]any) { m["baseline"] = []any{0, 1} })},
		{"fewer features in the header", func(i learn.ModelInfo) learn.ModelInfo { i.Features = i.Features[:2]; return i }, good},
		{"regression with classes", func(i learn.ModelInfo) learn.ModelInfo { i.Classes = 3; return i }, good},
		{"multiclass header for one output", func(i learn.ModelInfo) learn.ModelInfo {
			i.Task, i.Classes = learn.TaskMulticlass, 3
			return i
		}, good},
		{"unknown task", func(i learn.ModelInfo) learn.ModelInfo { i.Task = "ranking"; return i }, good},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := info
			if c.info != nil {
				in = c.info(info)
			}
			if _, err := Decode(in, c.data); !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("err %v, want ErrInvalidModel", err)
			}
		})
	}
	if _, err := Decode(info, good); err != nil {
		t.Fatalf("the unedited model: %v", err)
	}
}

// leafOf returns the index of the leaf row x falls into.
func leafOf(t *tree, x []float64) int32 {
	i := int32(0)
	for {
		n := &t.nodes[i]
		if n.feature < 0 {
			return i
		}
		v := x[n.feature]
		if v <= n.threshold || (v != v && n.defaultLeft) {
			i = n.left
		} else {
			i = n.right
		}
	}
}

// TestTreeShapeLimits: every tree keeps to max_leaves and max_depth, and
// every leaf holds at least min_samples_leaf training rows.
func TestTreeShapeLimits(t *testing.T) {
	ds := synth(learn.TaskRegression, 5000, 8, 21, 0.1)
	for _, c := range []struct{ leaves, depth, minLeaf int }{{31, 0, 20}, {8, 0, 100}, {31, 3, 5}, {2, 0, 1}} {
		p := DefaultParams(learn.TaskRegression)
		p.MaxIter, p.MaxLeaves, p.MaxDepth, p.MinSamplesLeaf = 5, c.leaves, c.depth, c.minLeaf
		m := mustTrain(t, ds, p)
		for ti := range m.trees {
			tr := &m.trees[ti]
			depth := make([]int, len(tr.nodes))
			leaves := 0
			for i, n := range tr.nodes {
				if n.feature < 0 {
					leaves++
					continue
				}
				depth[n.left], depth[n.right] = depth[i]+1, depth[i]+1
				if c.depth > 0 && depth[i]+1 > c.depth {
					t.Errorf("%+v tree %d: node %d at depth %d", c, ti, n.left, depth[i]+1)
				}
			}
			if leaves > c.leaves || leaves < 2 {
				t.Errorf("%+v tree %d: %d leaves", c, ti, leaves)
			}
			count := map[int32]int{}
			for i := range ds.Rows {
				count[leafOf(tr, ds.Row(i))]++
			}
			for leaf, n := range count {
				if n < c.minLeaf {
					t.Errorf("%+v tree %d: leaf %d holds %d rows", c, ti, leaf, n)
				}
			}
		}
	}
}

// TestZeroHessians: when every row's hessian is 0 (probabilities
// saturated at exactly 0 or 1) the tree cannot split and must learn
// nothing rather than 0/0.
func TestZeroHessians(t *testing.T) {
	ds := synth(learn.TaskBinary, 100, 5, 1, 0)
	rows := make([]int32, ds.Rows)
	for i := range rows {
		rows[i] = int32(i)
	}
	p := DefaultParams(learn.TaskBinary).withDefaults()
	bn := fitBinner(ds.X, ds.Cols, rows, p.MaxBins, 0, 1)
	gr := newGrower(bn.transform(ds.X, ds.Cols, rows, 1), bn, &p, 1, false)
	g, h := make([]float32, ds.Rows), make([]float32, ds.Rows)
	nodes := gr.grow(g, h)
	if len(nodes) != 1 || nodes[0].value != 0 {
		t.Fatalf("tree %+v, want one leaf of value 0", nodes)
	}
}
