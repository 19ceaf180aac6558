// Package tabular reads and writes the trainer's Parquet training sets: the
// features service's layout (entity_key, event_time in ms, label, one
// optional column per feature named view:feature) in, frames of numbers
// and strings out, and the train and holdout files the runners read.
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
	"github.com/tributary-ml/tributary/libs/learn/categorical"
)

// Columns of every training set besides the features.
const (
	ColEntity = "entity_key"
	ColTime   = "event_time"
	ColLabel  = "label"
)

// Frame is a training set in memory: a row per label, numeric features as
// float64 (null is NaN, booleans 0/1), string features as strings.
type Frame struct {
	Features []string // column names, in model order
	Entity   []string
	TimeMs   []int64
	Label    []float64
	X        [][]float64 // X[feature][row]; for a string feature 0 where the row has a value, NaN where it is null
	// Text holds the string features: Text[feature] is nil for a numeric
	// one, else its value in each row ("" where null: X says which).
	Text [][]string
}

// IsText reports whether feature j is a string (categorical) feature.
func (f *Frame) IsText(j int) bool { return j < len(f.Text) && f.Text[j] != nil }

// Rows is the number of rows.
func (f *Frame) Rows() int { return len(f.Label) }

// ErrBadColumn reports a training set without a column the model needs, or
// with a column of a type the trainer does not read (not a number, boolean
// or string).
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
	f := &Frame{Features: slices.Clone(features), X: make([][]float64, len(features)), Text: make([][]string, len(features))}
	for i, fl := range fields {
		if j := col[i]; j >= 0 && fl.Leaf() && fl.Type().Kind() == parquet.ByteArray {
			f.Text[j] = []string{}
		}
	}
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
					if f.Text[j] != nil {
						f.Text[j] = append(f.Text[j], "")
					}
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
						if f.Text[c] != nil {
							f.Text[c][last] = string(v.ByteArray())
							f.X[c][last] = 0
							continue
						}
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
	return 0, fmt.Errorf("values of kind %v are not numbers, booleans or strings", v.Kind())
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
	out := &Frame{Features: f.Features, X: make([][]float64, len(f.X)), Text: make([][]string, len(f.X))}
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
		if f.IsText(j) {
			out.Text[j] = make([]string, len(idx))
			for k, i := range idx {
				out.Text[j][k] = f.Text[j][i]
			}
		}
	}
	return out
}

// Vocabularies maps a categorical feature to its vocabulary (a model
// file's encodings, or those a runner learns).
type Vocabularies map[string]*categorical.Vocabulary

// Dataset returns the frame as a learn.Dataset (row-major): string
// features become their codes in vocabs (NaN where null, or not in a
// vocabulary without an other code). A string feature without a
// vocabulary is an error wrapping ErrBadColumn: the model reads it as a
// number.
func (f *Frame) Dataset(classes int, vocabs Vocabularies) (*learn.Dataset, error) {
	rows, cols := f.Rows(), len(f.Features)
	d := &learn.Dataset{X: make([]float64, rows*cols), Y: slices.Clone(f.Label), Rows: rows, Cols: cols, Features: slices.Clone(f.Features), Classes: classes}
	for j := range cols {
		if f.IsText(j) {
			voc := vocabs[f.Features[j]]
			if voc == nil {
				return nil, fmt.Errorf("%w: column %q holds strings and the model reads it as a number", ErrBadColumn, f.Features[j])
			}
			for i := range rows {
				d.X[i*cols+j] = math.NaN()
				if !math.IsNaN(f.X[j][i]) {
					d.X[i*cols+j], _ = voc.Code(f.Text[j][i])
				}
			}
			continue
		}
		for i := range rows {
			d.X[i*cols+j] = f.X[j][i]
		}
	}
	return d, nil
}

// Column returns the values of a feature column, in row order (for a
// string feature, 0 where present and NaN where null).
func (f *Frame) Column(name string) []float64 {
	j := slices.Index(f.Features, name)
	if j < 0 {
		return nil
	}
	return f.X[j]
}

// TextColumn returns the present values of a string feature, in row
// order, and how many rows have none; ok is false for a numeric feature.
func (f *Frame) TextColumn(name string) (values []string, missing int64, ok bool) {
	j := slices.Index(f.Features, name)
	if j < 0 || !f.IsText(j) {
		return nil, 0, false
	}
	values = make([]string, 0, len(f.Text[j]))
	for i, s := range f.Text[j] {
		if math.IsNaN(f.X[j][i]) {
			missing++
			continue
		}
		values = append(values, s)
	}
	return values, missing, true
}

// Sub returns the frame of the named features (a view of f's columns);
// ok is false when f lacks one.
func (f *Frame) Sub(features []string) (sub *Frame, missing string, ok bool) {
	sub = &Frame{Features: slices.Clone(features), Entity: f.Entity, TimeMs: f.TimeMs, Label: f.Label}
	for _, name := range features {
		j := slices.Index(f.Features, name)
		if j < 0 {
			return nil, name, false
		}
		sub.X = append(sub.X, f.X[j])
		var text []string
		if f.IsText(j) {
			text = f.Text[j]
		}
		sub.Text = append(sub.Text, text)
	}
	return sub, "", true
}

// WriteFile writes the frame as a training set file (numeric features as
// optional doubles, string features as optional strings, in the features
// service's layout).
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
	for j, name := range f.Features {
		if f.IsText(j) {
			g[name] = parquet.Optional(parquet.String())
		} else {
			g[name] = parquet.Optional(parquet.Leaf(parquet.DoubleType))
		}
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
			} else if f.IsText(j) {
				row[c] = parquet.ByteArrayValue([]byte(f.Text[j][i])).Level(0, 1, c)
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
