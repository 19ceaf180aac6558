package learntest

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestSyntheticIsNumpys compares the generator with what
// bench/sklearn_bench.py --write-check generated in numpy: the same bits.
func TestSyntheticIsNumpys(t *testing.T) {
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "synthetic_check.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Seed      uint64    `json:"seed"`
		Rows      int       `json:"rows"`
		Cols      int       `json:"cols"`
		X         []float64 `json:"first_rows_x"`
		Y         []float64 `json:"first_rows_y"`
		Positives int       `json:"positives"`
		XSum      float64   `json:"x_sum"`
		HX        []float64 `json:"rows_from_1000000_x"`
		HY        []float64 `json:"rows_from_1000000_y"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	d := Synthetic(c.Rows, c.Cols, c.Seed, 0)
	for k, want := range c.X {
		if d.X[k] != want {
			t.Fatalf("x[%d] = %v, numpy %v", k, d.X[k], want)
		}
	}
	for i, want := range c.Y {
		if d.Y[i] != want {
			t.Fatalf("y[%d] = %v, numpy %v", i, d.Y[i], want)
		}
	}
	pos := 0
	var sum float64
	for i, y := range d.Y {
		pos += int(y)
		for _, x := range d.Row(i) {
			sum += x
		}
	}
	if pos != c.Positives {
		t.Errorf("%d positives, numpy %d", pos, c.Positives)
	}
	// numpy sums pairwise, so compare the sum loosely.
	if math.Abs(sum-c.XSum) > 1e-9*math.Abs(c.XSum) {
		t.Errorf("sum of X %v, numpy %v", sum, c.XSum)
	}
	h := Synthetic(5, c.Cols, c.Seed, 1_000_000)
	for k, want := range c.HX {
		if h.X[k] != want {
			t.Fatalf("holdout x[%d] = %v, numpy %v", k, h.X[k], want)
		}
	}
	for i, want := range c.HY {
		if h.Y[i] != want {
			t.Fatalf("holdout y[%d] = %v, numpy %v", i, h.Y[i], want)
		}
	}
}
