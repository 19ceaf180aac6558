package tabular_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/tributary-ml/tributary/libs/learn/categorical"
	"github.com/tributary-ml/tributary/services/trainer/internal/tabular"
)

// featuresFile writes a set in the features service's layout: int64, bool,
// double and string feature columns, optional, with nulls.
func featuresFile(t *testing.T) []byte {
	t.Helper()
	g := parquet.Group{
		"entity_key": parquet.String(),
		"event_time": parquet.Timestamp(parquet.Millisecond),
		"label":      parquet.Leaf(parquet.DoubleType),
		"v:n":        parquet.Optional(parquet.Leaf(parquet.Int64Type)),
		"v:flag":     parquet.Optional(parquet.Leaf(parquet.BooleanType)),
		"v:x":        parquet.Optional(parquet.Leaf(parquet.DoubleType)),
		"v:s":        parquet.Optional(parquet.String()),
	}
	schema := parquet.NewSchema("training_set", g)
	col := map[string]int{}
	for i, f := range schema.Fields() {
		col[f.Name()] = i
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[any](&buf, schema)
	for i := range 4 {
		row := make(parquet.Row, len(col))
		row[col["entity_key"]] = parquet.ByteArrayValue([]byte{'a' + byte(i%2)}).Level(0, 0, col["entity_key"])
		row[col["event_time"]] = parquet.Int64Value(int64(4-i)*1000).Level(0, 0, col["event_time"]) // newest first
		row[col["label"]] = parquet.DoubleValue(float64(i%2)).Level(0, 0, col["label"])
		row[col["v:n"]] = parquet.Int64Value(int64(i*10)).Level(0, 1, col["v:n"])
		row[col["v:flag"]] = parquet.BooleanValue(i == 1).Level(0, 1, col["v:flag"])
		if i == 2 {
			row[col["v:x"]] = parquet.NullValue().Level(0, 0, col["v:x"])
		} else {
			row[col["v:x"]] = parquet.DoubleValue(float64(i)/2).Level(0, 1, col["v:x"])
		}
		if i == 3 {
			row[col["v:s"]] = parquet.NullValue().Level(0, 0, col["v:s"])
		} else {
			row[col["v:s"]] = parquet.ByteArrayValue([]byte([]string{"grocery", "travel", "grocery"}[i])).Level(0, 1, col["v:s"])
		}
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadAndSplit(t *testing.T) {
	b := featuresFile(t)
	f, err := tabular.Read(bytes.NewReader(b), int64(len(b)), []string{"v:x", "v:n", "v:flag"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Rows() != 4 || f.Column("v:n")[3] != 30 || f.Column("v:flag")[1] != 1 || f.Column("v:flag")[0] != 0 || !math.IsNaN(f.Column("v:x")[2]) || f.Column("v:x")[3] != 1.5 {
		t.Fatalf("frame %+v", f)
	}
	train, hold := f.SplitByTime(0.25)
	// The holdout is the newest row (event time 4000, written first).
	if hold.Rows() != 1 || hold.TimeMs[0] != 4000 || train.Rows() != 3 || train.TimeMs[0] != 1000 || train.TimeMs[2] != 3000 {
		t.Errorf("split: train %v, holdout %v", train.TimeMs, hold.TimeMs)
	}
	d, err := train.Dataset(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows != 3 || d.Cols != 3 || d.Features[1] != "v:n" || d.Row(0)[1] != 30 {
		t.Errorf("dataset %+v", d)
	}
	// What the trainer writes for the runners reads back the same.
	var out bytes.Buffer
	if err := train.Write(&out); err != nil {
		t.Fatal(err)
	}
	back, err := tabular.Read(bytes.NewReader(out.Bytes()), int64(out.Len()), train.Features)
	if err != nil || back.Rows() != 3 || back.Column("v:n")[0] != 30 || !math.IsNaN(back.Column("v:x")[1]) || back.Entity[0] != train.Entity[0] {
		t.Errorf("round trip %+v %v", back, err)
	}
}

func TestBadColumns(t *testing.T) {
	b := featuresFile(t)
	for _, c := range []struct {
		features []string
		want     string
	}{
		{[]string{"v:gone"}, `the training set has no column "v:gone"`},
	} {
		_, err := tabular.Read(bytes.NewReader(b), int64(len(b)), c.features)
		if !errors.Is(err, tabular.ErrBadColumn) || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("%v: %v, want %q", c.features, err, c.want)
		}
	}
}

// TestStringColumn reads a string feature (with a null), encodes it with a
// vocabulary, refuses it without one, and writes it back as strings.
func TestStringColumn(t *testing.T) {
	b := featuresFile(t)
	f, err := tabular.Read(bytes.NewReader(b), int64(len(b)), []string{"v:x", "v:s"})
	if err != nil {
		t.Fatal(err)
	}
	if f.IsText(0) || !f.IsText(1) || fmt.Sprint(f.Text[1]) != "[grocery travel grocery ]" || !math.IsNaN(f.X[1][3]) || f.X[1][0] != 0 {
		t.Fatalf("text %q, x %v", f.Text[1], f.X[1])
	}
	vals, missing, ok := f.TextColumn("v:s")
	if !ok || missing != 1 || fmt.Sprint(vals) != "[grocery travel grocery]" {
		t.Errorf("TextColumn = %v %d %v", vals, missing, ok)
	}
	if _, err := f.Dataset(0, nil); !errors.Is(err, tabular.ErrBadColumn) {
		t.Errorf("Dataset without a vocabulary = %v, want ErrBadColumn", err)
	}
	voc := categorical.Learn(vals, 0)
	d, err := f.Dataset(0, tabular.Vocabularies{"v:s": voc})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(d.Row(0)[1], d.Row(1)[1], d.Row(2)[1], d.Row(3)[1]); got != "0 1 0 NaN" {
		t.Errorf("codes %s, want 0 1 0 NaN", got)
	}
	train, _ := f.SplitByTime(0.25)
	var out bytes.Buffer
	if err := train.Write(&out); err != nil {
		t.Fatal(err)
	}
	back, err := tabular.Read(bytes.NewReader(out.Bytes()), int64(out.Len()), train.Features)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(back.Text[1]) != fmt.Sprint(train.Text[1]) || !slices.Equal(nanMask(back.X[1]), nanMask(train.X[1])) {
		t.Errorf("round trip: %q %v, want %q %v", back.Text[1], back.X[1], train.Text[1], train.X[1])
	}
	sub, _, ok := f.Sub([]string{"v:s"})
	if !ok || !sub.IsText(0) || sub.Rows() != 4 {
		t.Errorf("Sub: %+v", sub)
	}
}

func nanMask(x []float64) []bool {
	m := make([]bool, len(x))
	for i, v := range x {
		m[i] = math.IsNaN(v)
	}
	return m
}
