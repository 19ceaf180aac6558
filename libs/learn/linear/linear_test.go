package linear

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
)

// synthetic makes a seeded binary (or regression) set whose features have
// very different means and spreads, so standardization matters.
func synthetic(rows, cols int, seed uint64, regression bool) *learn.Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &learn.Dataset{X: make([]float64, rows*cols), Y: make([]float64, rows), Rows: rows, Cols: cols}
	w := make([]float64, cols)
	for j := range w {
		w[j] = rng.NormFloat64()
	}
	for i := range rows {
		eta := 0.0
		for j := range cols {
			z := rng.NormFloat64()
			eta += w[j] * z
			d.X[i*cols+j] = 1000*float64(j) + z*math.Pow(10, float64(j%4)-1)
		}
		if regression {
			d.Y[i] = eta + 0.3*rng.NormFloat64()
		} else if rng.Float64() < 1/(1+math.Exp(-eta)) {
			d.Y[i] = 1
		}
	}
	return d
}

func TestTrainingRefusesBadData(t *testing.T) {
	ctx := context.Background()
	good := func() *learn.Dataset { return synthetic(50, 3, 1, false) }
	cases := []struct {
		name   string
		change func(d *learn.Dataset)
		want   error
	}{
		{"empty", func(d *learn.Dataset) { *d = learn.Dataset{Cols: 3} }, learn.ErrEmpty},
		{"single class", func(d *learn.Dataset) { clear(d.Y) }, learn.ErrSingleClass},
		{"NaN label", func(d *learn.Dataset) { d.Y[3] = math.NaN() }, learn.ErrBadLabel},
		{"Inf label", func(d *learn.Dataset) { d.Y[3] = math.Inf(1) }, learn.ErrBadLabel},
		{"label 2 for binary", func(d *learn.Dataset) { d.Y[3] = 2 }, learn.ErrBadLabel},
		{"Inf feature", func(d *learn.Dataset) { d.X[7] = math.Inf(-1) }, learn.ErrBadFeature},
		{"ragged", func(d *learn.Dataset) { d.X = d.X[:10] }, learn.ErrShape},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := good()
			tc.change(d)
			if _, err := TrainLogistic(ctx, d, learn.TaskBinary, LogisticConfig{}); !errors.Is(err, tc.want) {
				t.Errorf("logistic: %v, want %v", err, tc.want)
			}
			if tc.want == learn.ErrSingleClass || tc.name == "label 2 for binary" {
				return // fine labels for a regression
			}
			if _, err := TrainRidge(ctx, d, RidgeConfig{}); !errors.Is(err, tc.want) {
				t.Errorf("ridge: %v, want %v", err, tc.want)
			}
		})
	}
	d := good()
	if _, err := TrainLogistic(ctx, d, learn.TaskRegression, LogisticConfig{}); !errors.Is(err, learn.ErrBadTask) {
		t.Errorf("logistic for regression: %v", err)
	}
	for _, cfg := range []LogisticConfig{{C: -1}, {C: math.Inf(1)}, {Tol: -1}, {MaxIter: -3}} {
		if _, err := TrainLogistic(ctx, d, learn.TaskBinary, cfg); !errors.Is(err, learn.ErrBadParam) {
			t.Errorf("config %+v: %v, want %v", cfg, err, learn.ErrBadParam)
		}
	}
	if _, err := TrainRidge(ctx, d, RidgeConfig{Alpha: -1}); !errors.Is(err, learn.ErrBadParam) {
		t.Errorf("alpha -1: %v", err)
	}
}

// TestDeterministic trains twice and with different worker counts, on more
// rows than one block, and wants the same coefficients bit for bit.
func TestDeterministic(t *testing.T) {
	ctx := context.Background()
	d := synthetic(3*blockRows+17, 6, 2, false)
	var ref []float64
	for _, workers := range []int{1, 2, 3, 1} {
		m, err := TrainLogistic(ctx, d, learn.TaskBinary, LogisticConfig{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		coef, b := m.Coef(0)
		got := append(coef, b)
		if ref == nil {
			ref = got
		} else if !slices.Equal(got, ref) {
			t.Fatalf("workers %d: coefficients %v, first run %v", workers, got, ref)
		}
	}
	r := synthetic(2*blockRows+5, 5, 3, true)
	r1, err := TrainRidge(ctx, r, RidgeConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := TrainRidge(ctx, r, RidgeConfig{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	c1, b1 := r1.Coef()
	c2, b2 := r2.Coef()
	if !slices.Equal(c1, c2) || b1 != b2 {
		t.Fatalf("ridge with 1 and 2 workers: %v %v and %v %v", c1, b1, c2, b2)
	}
}

// TestStandardizationInsideTheModel checks that Predict takes raw rows and
// that a missing value is the training mean.
func TestStandardizationInsideTheModel(t *testing.T) {
	ctx := context.Background()
	d := synthetic(2000, 4, 4, false)
	m, err := TrainLogistic(ctx, d, learn.TaskBinary, LogisticConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := learn.Evaluate(m, d, learn.TaskBinary)
	if err != nil {
		t.Fatal(err)
	}
	if ev.AUC < 0.75 {
		t.Fatalf("training AUC %v on raw rows of very different scales", ev.AUC)
	}
	st := m.body.standardizer
	row := slices.Clone(d.Row(0))
	withMean := slices.Clone(row)
	withMean[2] = st.Mean[2]
	row[2] = math.NaN()
	var a, b [1]float64
	m.Predict(row, a[:])
	m.Predict(withMean, b[:])
	if math.Abs(a[0]-b[0]) > 1e-12 {
		t.Fatalf("missing value predicts %v, the training mean %v", a[0], b[0])
	}
	// A constant and an all-missing feature get scale 1 and do not break
	// training.
	for i := range d.Rows {
		d.X[i*d.Cols] = 5
		d.X[i*d.Cols+1] = math.NaN()
	}
	m, err = TrainLogistic(ctx, d, learn.TaskBinary, LogisticConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if st := m.body.standardizer; st.Scale[0] != 1 || st.Scale[1] != 1 || st.Mean[1] != 0 {
		t.Fatalf("constant and all-missing features: %+v", st)
	}
	if coef, _ := m.Coef(0); coef[0] != 0 || coef[1] != 0 {
		t.Fatalf("coefficients of features without information: %v", coef[:2])
	}
}

func TestMissingValuesInTraining(t *testing.T) {
	ctx := context.Background()
	d := synthetic(3000, 4, 5, true)
	rng := rand.New(rand.NewPCG(9, 9))
	for k := range d.X {
		if rng.Float64() < 0.1 {
			d.X[k] = math.NaN()
		}
	}
	m, err := TrainRidge(ctx, d, RidgeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := learn.Evaluate(m, d, learn.TaskRegression)
	if err != nil {
		t.Fatal(err)
	}
	if ev.R2 < 0.5 || math.IsNaN(ev.R2) {
		t.Fatalf("R² %v with 10%% missing values", ev.R2)
	}
}

func TestCancelledTraining(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := synthetic(500, 3, 6, false)
	if _, err := TrainLogistic(ctx, d, learn.TaskBinary, LogisticConfig{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("logistic with a cancelled context: %v", err)
	}
	if _, err := TrainRidge(ctx, d, RidgeConfig{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("ridge with a cancelled context: %v", err)
	}
}

func TestPredictAllocatesNothing(t *testing.T) {
	d := synthetic(500, 3, 7, false)
	m, err := TrainLogistic(context.Background(), d, learn.TaskBinary, LogisticConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, 1)
	if n := testing.AllocsPerRun(100, func() { m.Predict(d.Row(3), out) }); n != 0 {
		t.Fatalf("Predict allocates %v times", n)
	}
}

func TestSoftmaxOfHugeScores(t *testing.T) {
	cases := []struct {
		in, want []float64
	}{
		{[]float64{0, 0}, []float64{0.5, 0.5}},
		{[]float64{1000, 0, -1000}, []float64{1, 0, 0}},
		{[]float64{math.Inf(1), 3, math.Inf(1)}, []float64{0.5, 0, 0.5}},
		{[]float64{math.Inf(-1), 0}, []float64{0, 1}},
	}
	for _, tc := range cases {
		v := slices.Clone(tc.in)
		softmax(v)
		if !slices.Equal(v, tc.want) {
			t.Errorf("softmax(%v) = %v, want %v", tc.in, v, tc.want)
		}
	}
}
