package lightgbm

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
)

// FuzzParse: any input either parses into a model that predicts (and ends)
// on any row, or fails with an error wrapping ErrFormat or ErrUnsupported;
// it never panics. Seeds: the committed models, whole and truncated.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"binary.txt", "poisson.txt", "regression.txt", "multiclass.txt", "v3_binary.txt", "v2_binary.txt"} {
		b := readModelFile(f, name)
		f.Add(b[:len(b)/2]) // truncated
		// The first trees only, so that the fuzzer runs fast.
		s := string(b)
		s = s[:strings.Index(s, "Tree=4\n")] + "end of trees\n"
		s = regexp.MustCompile(`(?m)^tree_sizes=.*\n`).ReplaceAllString(s, "")
		if _, err := ParseBytes([]byte(s)); err != nil {
			f.Fatalf("seed from %s: %v", name, err)
		}
		f.Add([]byte(s))
	}
	f.Add([]byte("tree\nversion=v4\nnum_class=1\nmax_feature_idx=0\nobjective=regression\n\nTree=0\nnum_leaves=1\nleaf_value=1\n\nend of trees\n"))
	rows := [][]float64{
		nil,
		{math.NaN(), math.NaN(), math.NaN()},
		{0, -1, 1e-36, 3, math.Inf(1), math.Inf(-1), 1e300, -0.5, 2.5},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseBytes(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out := make([]float64, m.Outputs())
		for _, row := range rows {
			m.Predict(row, out)
		}
	})
}
