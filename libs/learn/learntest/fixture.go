package learntest

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
)

// The committed fixtures.
const (
	BreastCancer   = "breast_cancer"  // scikit-learn's breast-cancer data, 569 x 30, binary
	Classification = "classification" // make_classification, 100k x 20, binary
	Regression     = "regression"     // make_regression plus a non-linear part, 100k x 20
	Multiclass     = "multiclass"     // make_classification, 5000 x 10, 4 classes
)

// Header is a fixture's JSON header (<name>.json).
type Header struct {
	Format       string    `json:"format"`
	Version      int       `json:"version"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	Task         string    `json:"task"`
	Rows         int       `json:"rows"`
	Cols         int       `json:"cols"`
	Classes      int       `json:"classes"`
	Features     []string  `json:"features"`
	HoldoutStart int       `json:"holdout_start"`
	Data         string    `json:"data"`
	XEncoding    string    `json:"x_encoding"`
	XOffset      []float64 `json:"x_offset"`
	XScale       []float64 `json:"x_scale"`
	YEncoding    string    `json:"y_encoding"`
}

// Fixture is one data set, split as the references were measured: the first
// HoldoutStart rows train, the rest are the holdout.
type Fixture struct {
	Header  Header
	Task    learn.Task
	Train   *learn.Dataset
	Holdout *learn.Dataset
}

// Dir is the folder that holds the fixtures (libs/learn/testdata).
func Dir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("locate the learntest package source")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata"), nil
}

// Load reads the fixture with the given name from Dir.
func Load(name string) (*Fixture, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	return LoadFrom(dir, name)
}

// MustLoad is Load for tests: it stops the test on an error.
func MustLoad(tb testing.TB, name string) *Fixture {
	tb.Helper()
	f, err := Load(name)
	if err != nil {
		tb.Fatalf("load fixture %s: %v", name, err)
	}
	return f
}

// LoadFrom reads the fixture with the given name from dir.
func LoadFrom(dir, name string) (*Fixture, error) {
	raw, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		return nil, fmt.Errorf("read fixture header: %w", err)
	}
	var h Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("decode fixture header %s: %w", name, err)
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("fixture %s: %w", name, err)
	}
	x, y, err := readData(filepath.Join(dir, h.Data), &h)
	if err != nil {
		return nil, fmt.Errorf("fixture %s: %w", name, err)
	}
	task := learn.Task(h.Task)
	classes := 0
	if task == learn.TaskMulticlass {
		classes = h.Classes
	}
	split := func(lo, hi int) *learn.Dataset {
		return &learn.Dataset{
			X:        x[lo*h.Cols : hi*h.Cols],
			Y:        y[lo:hi],
			Rows:     hi - lo,
			Cols:     h.Cols,
			Features: h.Features,
			Classes:  classes,
		}
	}
	return &Fixture{
		Header:  h,
		Task:    task,
		Train:   split(0, h.HoldoutStart),
		Holdout: split(h.HoldoutStart, h.Rows),
	}, nil
}

func (h *Header) check() error {
	switch {
	case h.Format != "tributary.fixture" || h.Version != 1:
		return fmt.Errorf("unknown fixture format %q version %d", h.Format, h.Version)
	case h.XEncoding != "int16le-affine-colmajor":
		return fmt.Errorf("unknown x encoding %q", h.XEncoding)
	case h.YEncoding != "uint8" && h.YEncoding != "float32le":
		return fmt.Errorf("unknown y encoding %q", h.YEncoding)
	case h.Rows <= 0 || h.Cols <= 0 || h.HoldoutStart <= 0 || h.HoldoutStart >= h.Rows:
		return fmt.Errorf("bad shape: %d rows, %d cols, holdout from %d", h.Rows, h.Cols, h.HoldoutStart)
	case len(h.Features) != h.Cols || len(h.XOffset) != h.Cols || len(h.XScale) != h.Cols:
		return fmt.Errorf("header names %d features, %d offsets, %d scales for %d columns",
			len(h.Features), len(h.XOffset), len(h.XScale), h.Cols)
	}
	switch learn.Task(h.Task) {
	case learn.TaskBinary, learn.TaskMulticlass, learn.TaskRegression:
	default:
		return fmt.Errorf("unknown task %q", h.Task)
	}
	return nil
}

// readData decodes the gzip file: the columns (int16, column after column),
// then the labels. It returns X row-major.
func readData(path string, h *Header) (x, y []float64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open data: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, nil, fmt.Errorf("open gzip data: %w", err)
	}
	defer zr.Close()
	r := bufio.NewReaderSize(zr, 1<<16)

	x = make([]float64, h.Rows*h.Cols)
	col := make([]int16, h.Rows)
	for j := 0; j < h.Cols; j++ {
		if err := binary.Read(r, binary.LittleEndian, col); err != nil {
			return nil, nil, fmt.Errorf("read column %d: %w", j, err)
		}
		off, scale := h.XOffset[j], h.XScale[j]
		for i, q := range col {
			// The explicit conversion keeps the product rounded before the
			// sum (no fused multiply-add), as numpy computes it.
			x[i*h.Cols+j] = off + float64(scale*float64(q))
		}
	}
	y = make([]float64, h.Rows)
	switch h.YEncoding {
	case "uint8":
		b := make([]byte, h.Rows)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, nil, fmt.Errorf("read labels: %w", err)
		}
		for i, v := range b {
			y[i] = float64(v)
		}
	case "float32le":
		v := make([]float32, h.Rows)
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return nil, nil, fmt.Errorf("read labels: %w", err)
		}
		for i := range v {
			y[i] = float64(v[i])
		}
	}
	if n, _ := io.Copy(io.Discard, r); n != 0 {
		return nil, nil, fmt.Errorf("data has %d bytes more than the header describes", n)
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("label %d is %v", i, v)
		}
	}
	return x, y, nil
}
