package drift

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/model"
)

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDrift1Mx50 is the goal: 1M logged predictions × 50
// features (40 numeric on 10 bins, 10 categorical of 20 categories, plus
// the prediction) fed into twelve 5 min windows of an hour, every metric
// computed for each 5 min window, then the windows merged into the hour
// and its metrics computed. It reports the process's CPU seconds per run
// (cpu-s/op; goal ≤ 2.5 s).
func BenchmarkDrift1Mx50(b *testing.B) {
	const (
		rows, numeric, categorical, windows = 1_000_000, 40, 10, 12
		block                               = 4096 // distinct rows, cycled
	)
	r := rand.New(rand.NewPCG(1, 1))
	cats := make([]string, 24)
	for i := range cats {
		cats[i] = fmt.Sprintf("category-%02d", i)
	}
	ref := model.Reference{Features: map[string]model.Distribution{}}
	for f := range numeric {
		ref.Features[fmt.Sprintf("num%02d", f)] = model.NewNumeric(normals(r, 10000, float64(f), 1), 10)
	}
	for f := range categorical {
		v := make([]string, 10000)
		for i := range v {
			v[i] = cats[r.IntN(20)]
		}
		ref.Features[fmt.Sprintf("cat%02d", f)] = model.NewCategorical(v, 0)
	}
	ref.Prediction = model.NewNumeric(normals(r, 10000, 0.5, 0.2), 10)

	probe, err := NewWindow(ref, time.Time{}, 5*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	names := probe.Names()
	isNum := make([]bool, len(names))
	for i, n := range names {
		isNum[i] = ref.Features[n].Kind == model.KindNumeric
	}
	nums := make([][]float64, block)
	strs := make([][]string, block)
	preds := make([]float64, block)
	for k := range block {
		nums[k] = make([]float64, len(names))
		strs[k] = make([]string, len(names))
		for i := range names {
			if isNum[i] {
				nums[k][i] = float64(i) + 1.1*r.NormFloat64() + 0.1
			} else {
				strs[k][i] = cats[r.IntN(24)]
			}
		}
		preds[k] = 0.5 + 0.2*r.NormFloat64()
	}
	cfg := DefaultConfig()
	hourStart := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime(b)
	for range b.N {
		hour, err := NewWindow(ref, hourStart, 5*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		perWindow := rows / windows
		for wi := range windows {
			w, err := NewWindow(ref, hourStart.Add(time.Duration(wi)*5*time.Minute), 5*time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			for row := wi * perWindow; row < (wi+1)*perWindow; row++ {
				k := row % block
				for i := range names {
					if isNum[i] {
						err = w.Feature(i).AddFloat(nums[k][i])
					} else {
						err = w.Feature(i).AddString(strs[k][i])
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Prediction().AddFloat(preds[k]); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := CompareWindow(ref, w, cfg); err != nil {
				b.Fatal(err)
			}
			if err := hour.Merge(w); err != nil {
				b.Fatal(err)
			}
		}
		rep, err := CompareWindow(ref, hour, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Features[0].Count != int64(perWindow*windows) {
			b.Fatalf("hour counted %d values, want %d", rep.Features[0].Count, perWindow*windows)
		}
	}
	b.ReportMetric((cpuTime(b)-start).Seconds()/float64(b.N), "cpu-s/op")
}
