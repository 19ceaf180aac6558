package gbdt

import (
	"context"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
)

// BenchmarkTrainBinary1M trains the default binary model (100 iterations
// at most, early stopping on) on 1M synthetic rows of 20 features.
func BenchmarkTrainBinary1M(b *testing.B) {
	ds := synth(learn.TaskBinary, 1_000_000, 20, 7, 0)
	b.ResetTimer()
	for range b.N {
		m, err := Train(context.Background(), ds, DefaultParams(learn.TaskBinary))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(m.Iterations()), "iterations")
	}
}
