package offline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/tiles"
)

// ErrUnknownFeature reports a feature reference that names no applied view
// or feature; the error names it.
var ErrUnknownFeature = errors.New("unknown feature")

// ErrUnknownView reports a feature reference whose view is not applied.
var ErrUnknownView = errors.New("unknown view")

// Views finds applied views by name.
type Views interface {
	View(name string) (*tiles.Plan, bool)
}

// Ref is a resolved feature reference.
type Ref struct {
	Name  string // view:feature
	Plan  *tiles.Plan
	Index int // the feature's index in the plan
	Type  featurespec.ValueType
}

// ResolveRefs resolves "view:feature" references.
func ResolveRefs(views Views, refs []string) ([]Ref, error) {
	if len(refs) == 0 {
		return nil, fmt.Errorf("%w: no feature requested", ErrUnknownFeature)
	}
	out := make([]Ref, len(refs))
	for i, r := range refs {
		view, feat, ok := strings.Cut(r, ":")
		if !ok {
			return nil, fmt.Errorf("%w %q: not view:feature", ErrUnknownFeature, r)
		}
		p, ok := views.View(view)
		if !ok {
			return nil, fmt.Errorf("%w %q in %q", ErrUnknownView, view, r)
		}
		f, idx, ok := p.View.Feature(feat)
		if !ok {
			return nil, fmt.Errorf("%w %q: view %s has no feature %q", ErrUnknownFeature, r, view, feat)
		}
		out[i] = Ref{Name: r, Plan: p, Index: idx, Type: f.Type}
	}
	return out, nil
}

// Set is a computed training set: per row, the value of each ref as of the
// row's time.
type Set struct {
	Refs   []Ref
	Rows   []Label
	Values [][]tiles.Value // Values[row][ref]
}

// Versions maps each view of the set to its definition version.
func (s *Set) Versions() map[string]string {
	out := map[string]string{}
	for _, r := range s.Refs {
		out[r.Plan.View.Name] = r.Plan.View.Version
	}
	return out
}

// Compute reads the stored events of the entities of rows and computes each
// feature as of each row's time, from the events the online path admitted
// (no copy, no late event: tiles.Plan.Accept) that count from an instant at
// or before it, in Kafka order: the state the online path holds at that
// instant.
func (s *Store) Compute(ctx context.Context, refs []Ref, rows []Label) (*Set, error) {
	set := &Set{Refs: refs, Rows: rows, Values: make([][]tiles.Value, len(rows))}
	for i := range set.Values {
		set.Values[i] = make([]tiles.Value, len(refs))
	}
	byView := map[*tiles.Plan][]int{}
	var plans []*tiles.Plan
	for i, r := range refs {
		if _, ok := byView[r.Plan]; !ok {
			plans = append(plans, r.Plan)
		}
		byView[r.Plan] = append(byView[r.Plan], i)
	}
	byEntity := map[string][]int{}
	var entities []string
	for i, r := range rows {
		if _, ok := byEntity[r.EntityKey]; !ok {
			entities = append(entities, r.EntityKey)
		}
		byEntity[r.EntityKey] = append(byEntity[r.EntityKey], i)
	}
	for _, p := range plans {
		stored, err := s.Events(ctx, p.View.Source.Stream, entities)
		if err != nil {
			return nil, err
		}
		// Entities are independent, and each writes only its own rows:
		// one worker per CPU.
		work := make(chan string)
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ent := range work {
					idx := byEntity[ent]
					slices.SortStableFunc(idx, func(a, b int) int { return cmpInt(rows[a].TimeMs, rows[b].TimeMs) })
					asOf := AsOf(p, p.Accept(decode(p, stored[ent])))
					for _, ri := range idx {
						vals := p.Read(asOf(rows[ri].TimeMs), rows[ri].TimeMs)
						for _, ref := range byView[p] {
							set.Values[ri][ref] = vals[refs[ref].Index]
						}
					}
				}
			}()
		}
		for _, ent := range entities {
			if ctx.Err() != nil {
				break
			}
			work <- ent
		}
		close(work)
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// decode turns stored events into the view's events, dropping those the
// online path could not read either (and dead-lettered).
func decode(p *tiles.Plan, stored []StoredEvent) []tiles.Event {
	out := make([]tiles.Event, 0, len(stored))
	for _, se := range stored {
		if e, err := se.Event(p); err == nil {
			out = append(out, e)
		}
	}
	return out
}

// AsOf returns a function giving the state of an entity as of an instant
// from its admitted events (tiles.Plan.Accept) in Kafka order: those that
// count from an instant at or before it, added in that order. Called with
// non-decreasing instants it extends the previous state when the events it
// adds all arrived after the ones it holds, and rebuilds it otherwise.
func AsOf(p *tiles.Plan, evs []tiles.Event) func(t int64) *tiles.State {
	// sufMin[i] is the earliest event time in evs[i:].
	sufMin := make([]int64, len(evs)+1)
	sufMin[len(evs)] = math.MaxInt64
	for i := len(evs) - 1; i >= 0; i-- {
		sufMin[i] = min(evs[i].Time, sufMin[i+1])
	}
	var st *tiles.State
	pos := 0                        // events consumed
	skipped := int64(math.MaxInt64) // earliest time among consumed events not applied
	return func(t int64) *tiles.State {
		if st == nil || skipped <= t {
			st, pos, skipped = tiles.NewState(p), 0, math.MaxInt64
		}
		for pos < len(evs) && sufMin[pos] <= t {
			if e := evs[pos]; e.Time <= t {
				st.Add(p, e)
			} else {
				skipped = min(skipped, e.Time)
			}
			pos++
		}
		return st
	}
}

// WriteParquet writes the set as Parquet: columns entity_key (string),
// event_time (timestamp, ms, UTC), label (double), and one optional column
// per feature named by its reference (double, int64, string or boolean;
// null where the entity had no value). Parquet groups order columns by
// name.
func (s *Set) WriteParquet(w io.Writer) error {
	g := parquet.Group{
		"entity_key": parquet.String(),
		"event_time": parquet.Timestamp(parquet.Millisecond),
		"label":      parquet.Leaf(parquet.DoubleType),
	}
	for _, r := range s.Refs {
		var n parquet.Node
		switch r.Type {
		case featurespec.ValueInt:
			n = parquet.Leaf(parquet.Int64Type)
		case featurespec.ValueString:
			n = parquet.String()
		case featurespec.ValueBool:
			n = parquet.Leaf(parquet.BooleanType)
		default:
			n = parquet.Leaf(parquet.DoubleType)
		}
		g[r.Name] = parquet.Optional(n)
	}
	schema := parquet.NewSchema("training_set", g)
	col := map[string]int{}
	for i, f := range schema.Fields() {
		col[f.Name()] = i
	}
	pw := parquet.NewGenericWriter[any](w, schema)
	row := make(parquet.Row, len(schema.Fields()))
	for i, r := range s.Rows {
		row[col["entity_key"]] = parquet.ByteArrayValue([]byte(r.EntityKey)).Level(0, 0, col["entity_key"])
		row[col["event_time"]] = parquet.Int64Value(r.TimeMs).Level(0, 0, col["event_time"])
		row[col["label"]] = parquet.DoubleValue(r.Value).Level(0, 0, col["label"])
		for j, ref := range s.Refs {
			c := col[ref.Name]
			row[c] = parquetValue(s.Values[i][j].V).Level(0, 1, c)
			if s.Values[i][j].V == nil {
				row[c] = parquet.NullValue().Level(0, 0, c)
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

func parquetValue(v any) parquet.Value {
	switch x := v.(type) {
	case float64:
		return parquet.DoubleValue(x)
	case int64:
		return parquet.Int64Value(x)
	case string:
		return parquet.ByteArrayValue([]byte(x))
	case bool:
		return parquet.BooleanValue(x)
	}
	return parquet.NullValue()
}
