package linear

import (
	"context"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/learntest"
)

// BenchmarkTrainLogistic1M trains on the 1M x 20 benchmark rows that
// libs/learn/bench/sklearn_bench.py gives scikit-learn (the same bits), and
// reports the AUC on the 200k rows after them beside the time:
//
//	go test -run '^$' -bench TrainLogistic1M -benchtime 3x ./learn/linear/
//	python libs/learn/bench/sklearn_bench.py --model lr
func BenchmarkTrainLogistic1M(b *testing.B) {
	train := learntest.Synthetic(1_000_000, 20, learntest.SyntheticSeed, 0)
	holdout := learntest.Synthetic(200_000, 20, learntest.SyntheticSeed, 1_000_000)
	b.ResetTimer()
	cpu0 := cpuTime()
	var m *Logistic
	for range b.N {
		var err error
		if m, err = TrainLogistic(context.Background(), train, learn.TaskBinary, LogisticConfig{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	ev, err := learn.Evaluate(m, holdout, learn.TaskBinary)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(ev.AUC, "holdout_auc")
	b.ReportMetric(float64(m.Fit().Iterations), "iterations")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu_s/op")
}
