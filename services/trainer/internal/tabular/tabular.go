// Package tabular reads and writes the trainer's Parquet training sets: the
// features service's layout (entity_key, event_time in ms, label, one
// optional column per feature named view:feature) in, numeric frames out,
// and the train and holdout files the runners read.
package tabular

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"

	"github.com/parquet-go/parquet-go"

	"github.com/tributary-ml/tributary/libs/learn"
)

// Columns of every training set besides the features.
const (
	ColEntity = "entity_key"
	ColTime   = "event_time"
	ColLabel  = "label"
)

// Frame is a training set in memory: a row per label, features as float64
// (null is NaN, booleans 0/1).
type Frame struct {
	Features []string // column names, in model order
	Entity   []string
	TimeMs   []int64
	Label    []float64
	X        [][]float64 // X[feature][row]
}

// Rows is the number of rows.
func (f *Frame) Rows() int { return len(f.Label) }

// ErrBadColumn reports a training set without a column the model needs, or
// with a column the built-in learners cannot read (strings).
var ErrBadColumn = errors.New("bad training set column")

// ReadFile reads a training set file and keeps the features named, in that
// order.
func ReadFile(path string, features []string) (*Frame, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open training set: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat training set: %w", err)
	}
	return Read(fh, st.Size(), features)
}

// Read reads a training set and keeps the features named, in that order.
func Read(r io.ReaderAt, size int64, features []string) (*Frame, error) {
	pf, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("open parquet: %w", err)
	}
	fields := pf.Schema().Fields()
	col := make([]int, len(fields)) // parquet column -> -1 entity, -2 time, -3 label, i feature, -4 ignored
	found := map[string]bool{}
	for i, fl := range fields {
		col[i] = -4
		switch fl.Name() {
		case ColEntity:
			col[i] = -1
		case ColTime:
			col[i] = -2
		case ColLabel:
			col[i] = -3
		default:
			if j := slices.Index(features, fl.Name()); j >= 0 {
				col[i] = j
			}
		}
		found[fl.Name()] = true
	}
	for _, need := range append([]string{ColTime, ColLabel}, features...) {
		if !found[need] {
			return nil, fmt.Errorf("%w: the training set has no column %q", ErrBadColumn, need)
		}
	}
	f := &Frame{Features: slices.Clone(features), X: make([][]float64, len(features))}
	buf := make([]parquet.Row, 256)
	for _, rg := range pf.RowGroups() {
		rr := rg.Rows()
		for {
			n, err := rr.ReadRows(buf)
			for _, row := range buf[:n] {
				f.Entity = append(f.Entity, "")
				f.TimeMs = append(f.TimeMs, 0)
				f.Label = append(f.Label, math.NaN())
				for j := range f.X {
					f.X[j] = append(f.X[j], math.NaN())
				}
				last := len(f.Label) - 1
				for _, v := range row {
					c := col[v.Column()]
					if c == -4 || v.IsNull() {
						continue
					}
					switch c {
					case -1:
						f.Entity[last] = string(v.ByteArray())
					case -2:
						f.TimeMs[last] = v.Int64()
					case -3:
						f.Label[last] = v.Double()
					default:
						x, err := number(v)
						if err != nil {
							_ = rr.Close()
							return nil, fmt.Errorf("%w: column %q: %v", ErrBadColumn, features[c], err)
						}
						f.X[c][last] = x
					}
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = rr.Close()
				return nil, fmt.Errorf("read parquet rows: %w", err)
			}
		}
		if err := rr.Close(); err != nil {
			return nil, fmt.Errorf("read parquet rows: %w", err)
		}
	}
	return f, nil
}

func number(v parquet.Value) (float64, error) {
	switch v.Kind() {
	case parquet.Double:
		return v.Double(), nil
	case parquet.Float:
		return float64(v.Float()), nil
	case parquet.Int64:
		return float64(v.Int64()), nil
	case parquet.Int32:
		return float64(v.Int32()), nil
	case parquet.Boolean:
		if v.Boolean() {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("values of kind %v are not numbers (the built-in learners read numeric and boolean features)", v.Kind())
}

// SplitByTime splits the frame into the oldest rows (train) and the newest
// fraction (holdout), by event time then entity: the holdout is never
// shuffled into training. Both parts keep at least one row when the frame
// has two.
func (f *Frame) SplitByTime(holdout float64) (train, hold *Frame) {
	idx := make([]int, f.Rows())
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if f.TimeMs[idx[a]] != f.TimeMs[idx[b]] {
			return f.TimeMs[idx[a]] < f.TimeMs[idx[b]]
		}
		return f.Entity[idx[a]] < f.Entity[idx[b]]
	})
	n := len(idx)
	h := int(math.Round(float64(n) * holdout))
	if n >= 2 {
		h = min(max(h, 1), n-1)
	}
	return f.subset(idx[:n-h]), f.subset(idx[n-h:])
}

func (f *Frame) subset(idx []int) *Frame {
	out := &Frame{Features: f.Features, X: make([][]float64, len(f.X))}
	for _, i := range idx {
		out.Entity = append(out.Entity, f.Entity[i])
		out.TimeMs = append(out.TimeMs, f.TimeMs[i])
		out.Label = append(out.Label, f.Label[i])
	}
	for j := range f.X {
		out.X[j] = make([]float64, len(idx))
		for k, i := range idx {
			out.X[j][k] = f.X[j][i]
		}
	}
	return out
}

// Dataset returns the frame as a learn.Dataset (row-major).
func (f *Frame) Dataset(classes int) *learn.Dataset {
	rows, cols := f.Rows(), len(f.Features)
	d := &learn.Dataset{X: make([]float64, rows*cols), Y: slices.Clone(f.Label), Rows: rows, Cols: cols, Features: slices.Clone(f.Features), Classes: classes}
	for j := range cols {
		for i := range rows {
			d.X[i*cols+j] = f.X[j][i]
		}
	}
	return d
}

// Column returns the values of a feature column, in row order.
func (f *Frame) Column(name string) []float64 {
	j := slices.Index(f.Features, name)
	if j < 0 {
		return nil
	}
	return f.X[j]
}

// WriteFile writes the frame as a training set file (features as optional
// doubles, in the features service's layout).
func (f *Frame) WriteFile(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Write(fh); err != nil {
		_ = fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

// Write writes the frame as Parquet.
func (f *Frame) Write(w io.Writer) error {
	g := parquet.Group{
		ColEntity: parquet.String(),
		ColTime:   parquet.Timestamp(parquet.Millisecond),
		ColLabel:  parquet.Leaf(parquet.DoubleType),
	}
	for _, name := range f.Features {
		g[name] = parquet.Optional(parquet.Leaf(parquet.DoubleType))
	}
	schema := parquet.NewSchema("training_set", g)
	col := map[string]int{}
	for i, fl := range schema.Fields() {
		col[fl.Name()] = i
	}
	pw := parquet.NewGenericWriter[any](w, schema)
	row := make(parquet.Row, len(schema.Fields()))
	for i := range f.Rows() {
		row[col[ColEntity]] = parquet.ByteArrayValue([]byte(f.Entity[i])).Level(0, 0, col[ColEntity])
		row[col[ColTime]] = parquet.Int64Value(f.TimeMs[i]).Level(0, 0, col[ColTime])
		row[col[ColLabel]] = parquet.DoubleValue(f.Label[i]).Level(0, 0, col[ColLabel])
		for j, name := range f.Features {
			c := col[name]
			if v := f.X[j][i]; math.IsNaN(v) {
				row[c] = parquet.NullValue().Level(0, 0, c)
			} else {
				row[c] = parquet.DoubleValue(v).Level(0, 1, c)
			}
		}
		if _, err := pw.WriteRows([]parquet.Row{row}); err != nil {
			return fmt.Errorf("write parquet row %d: %w", i, err)
		}
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("close parquet: %w", err)
	}
	return nil
}
