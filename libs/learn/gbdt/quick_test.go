package gbdt

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/learn"
)

func TestQuickSynth(t *testing.T) {
	ds := synth(learn.TaskBinary, 60000, 20, 3, 0.1)
	tr, te := subset(ds, 0, 50000), subset(ds, 50000, 60000)
	start := time.Now()
	m, err := Train(context.Background(), tr, DefaultParams(learn.TaskBinary))
	if err != nil {
		t.Fatal(err)
	}
	p := predictAll(m, te)
	s := make([]float64, len(p))
	for i := range p {
		s[i] = p[i][0]
	}
	t.Logf("auc %.4f iters %d in %v", aucOf(te.Y, s), m.Iterations(), time.Since(start))
}
