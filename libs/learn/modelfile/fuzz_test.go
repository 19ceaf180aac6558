package modelfile

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
)

// FuzzDecode feeds Decode mangled model files: it must refuse them with an
// *Error or return a model that predicts the right number of values on a
// row of the right width, and never panic.
func FuzzDecode(f *testing.F) {
	golden, err := filepath.Glob("testdata/*.v1.json")
	if err != nil || len(golden) == 0 {
		f.Fatalf("no golden files: %v", err)
	}
	for _, path := range golden {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"format":"tributary.model","version":1,"kind":"ridge","task":"regression","features":["a"],"model":{"mean":[0],"scale":[1],"coef":[2],"intercept":1}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, h, err := Decode(raw)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			return
		}
		row := make([]float64, len(h.Features))
		for j := range row {
			row[j] = float64(j) - 1.5
		}
		if len(row) > 0 {
			row[0] = math.NaN()
		}
		out := make([]float64, m.Outputs())
		m.Predict(row, out)
		if h.Task != learn.TaskRegression {
			for _, p := range out {
				if !(p >= 0 && p <= 1) {
					t.Fatalf("probability %v from %s", p, raw)
				}
			}
		}
	})
}
