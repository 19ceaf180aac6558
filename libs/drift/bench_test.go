package drift

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
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
	// The reference samples, kept for the data file of the Evidently
	// comparison.
	samples := map[string][]float64{}
	catSamples := map[string][]string{}
	for f := range numeric {
		name := fmt.Sprintf("num%02d", f)
		samples[name] = normals(r, 10000, float64(f), 1)
		ref.Features[name] = model.NewNumeric(samples[name], 10)
	}
	for f := range categorical {
		v := make([]string, 10000)
		for i := range v {
			v[i] = cats[r.IntN(20)]
		}
		name := fmt.Sprintf("cat%02d", f)
		catSamples[name] = v
		ref.Features[name] = model.NewCategorical(v, 0)
	}
	predSamples := normals(r, 10000, 0.5, 0.2)
	ref.Prediction = model.NewNumeric(predSamples, 10)

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
	if dir := os.Getenv("TRIBUTARY_DRIFT_BENCH_DATA"); dir != "" {
		d := benchData{
			Rows: rows / windows * windows, Block: block, Categories: cats, Names: names, Numeric: isNum,
			refNum: samples, refCat: catSamples, refPred: predSamples, nums: nums, strs: strs, preds: preds,
		}
		if err := d.write(dir); err != nil {
			b.Fatal(err)
		}
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

// benchData is the data of BenchmarkDrift1Mx50, written when
// TRIBUTARY_DRIFT_BENCH_DATA names a directory, for bench/evidently_bench.py
// to give Evidently the same values: meta.json (this struct), then
// little-endian column-major files, columns in the order of Names:
// reference.f64 and current.f64 (the numeric columns, then the prediction;
// 10000 and Block rows), reference.u8 and current.u8 (the categorical
// columns as indices into Categories). Row i of the current data is row
// i % Block of the files, as in the benchmark.
type benchData struct {
	Rows       int      `json:"rows"`
	Block      int      `json:"block"`
	Categories []string `json:"categories"`
	Names      []string `json:"names"`
	Numeric    []bool   `json:"numeric"`

	refNum  map[string][]float64
	refCat  map[string][]string
	refPred []float64
	nums    [][]float64
	strs    [][]string
	preds   []float64
}

func (d benchData) write(dir string) error {
	meta, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode meta.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), meta, 0o644); err != nil {
		return fmt.Errorf("write meta.json: %w", err)
	}
	var refF, curF []float64
	var refC, curC []byte
	code := func(s string) byte { return byte(slices.Index(d.Categories, s)) }
	for i, name := range d.Names {
		if d.Numeric[i] {
			refF = append(refF, d.refNum[name]...)
			for k := range d.Block {
				curF = append(curF, d.nums[k][i])
			}
			continue
		}
		for _, s := range d.refCat[name] {
			refC = append(refC, code(s))
		}
		for k := range d.Block {
			curC = append(curC, code(d.strs[k][i]))
		}
	}
	refF = append(refF, d.refPred...)
	curF = append(curF, d.preds...)
	for _, f := range []struct {
		name string
		data any
	}{{"reference.f64", refF}, {"current.f64", curF}, {"reference.u8", refC}, {"current.u8", curC}} {
		if err := writeLE(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

func writeLE(path string, data any) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	if err := binary.Write(w, binary.LittleEndian, data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}
