// Package online fetches a model's online features for entity keys: it
// follows the feature views applied in the KV bucket tributary_features and
// reads every view a model uses, for every entity of a request, from Redis
// in one pipelined round trip with libs/tiles, the read code of the
// features service, at the request's instant.
package online

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/tiles"
)

// Views holds the applied feature views, compiled for reading.
type Views struct {
	cur    atomic.Pointer[map[string]*tiles.Plan]
	logger *slog.Logger
	mu     sync.Mutex
	views  map[string]featurespec.View
	ready  chan struct{}
	once   sync.Once
}

// NewViews returns an empty set.
func NewViews(logger *slog.Logger) *Views {
	v := &Views{logger: logger, views: map[string]featurespec.View{}, ready: make(chan struct{})}
	v.publish()
	return v
}

// View returns the plan of a view.
func (v *Views) View(name string) (*tiles.Plan, bool) {
	p, ok := (*v.cur.Load())[name]
	return p, ok
}

// Ready is closed once every view in the bucket has been read.
func (v *Views) Ready() <-chan struct{} { return v.ready }

// Set adds or replaces a view.
func (v *Views) Set(view featurespec.View) {
	v.mu.Lock()
	v.views[view.Name] = view
	v.mu.Unlock()
	v.publish()
}

func (v *Views) remove(name string) {
	v.mu.Lock()
	delete(v.views, name)
	v.mu.Unlock()
	v.publish()
}

func (v *Views) publish() {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := make(map[string]*tiles.Plan, len(v.views))
	for name, view := range v.views {
		m[name] = tiles.Compile(view)
	}
	v.cur.Store(&m)
}

// Watch follows the bucket until ctx ends, watching again after an error.
func (v *Views) Watch(ctx context.Context, kv func(context.Context) (jetstream.KeyValue, error)) error {
	return featurespec.Watch(ctx, v.logger, kv, viewsWatcher{v})
}

// viewsWatcher applies the bucket's changes to the views.
type viewsWatcher struct{ v *Views }

func (w viewsWatcher) CaughtUp()                 { w.v.once.Do(func() { close(w.v.ready) }) }
func (w viewsWatcher) Delete(name string)        { w.v.remove(name) }
func (w viewsWatcher) Put(view featurespec.View) { w.v.Set(view) }
func (w viewsWatcher) Invalid(key string, _ uint64, err error) {
	w.v.logger.Error("feature view ignored", "key", key, "error", err)
}

// viewReader reads several views in one round trip (tiles.Store).
type viewReader interface {
	ReadViews(ctx context.Context, queries []tiles.Query, asOf int64) ([][][]tiles.Value, error)
}

var _ viewReader = (*tiles.Store)(nil)

// Entity is one entity of a request: its key and the request-time
// features it carries (by feature reference), which take the place of
// online values: numbers in Request, strings (categories) in Text.
type Entity struct {
	Key     string
	Request map[string]float64
	Text    map[string]string
}

// sends reports whether the entity carries feature ref.
func (e *Entity) sends(ref string) bool {
	if _, ok := e.Request[ref]; ok {
		return true
	}
	_, ok := e.Text[ref]
	return ok
}

// Row is the model input of one entity.
type Row struct {
	// Values are the features in the model's order, NaN for missing.
	Values []float64
	// Missing marks the values the entity had none for.
	Missing []bool
	// Ages are, per feature, the age in seconds of an online value at the
	// request's instant; -1 for a request-time feature or a missing value.
	Ages []float64
	// Freshest and Stalest are the smallest and largest Ages (-1 when no
	// online value was used).
	Freshest, Stalest float64
	// Text are, per feature, the string a categorical feature had (its
	// Value is NaN until Encode gives it the model's code); nil when the
	// row has no string value. After Encode, every categorical feature
	// with a value has its text here, a number as its decimal text.
	Text []*string
}

func (r *Row) setText(j int, s string) {
	if r.Text == nil {
		r.Text = make([]*string, len(r.Values))
	}
	r.Text[j] = &s
	r.Values[j] = math.NaN()
}

// TextOf returns the string of feature j, if it had one.
func (r *Row) TextOf(j int) (string, bool) {
	if j < len(r.Text) && r.Text[j] != nil {
		return *r.Text[j], true
	}
	return "", false
}

// MissingFeatureError names a feature the model needs that no applied view
// provides and the request does not carry.
type MissingFeatureError struct {
	Ref    string
	Entity string
	Why    string
}

func (e *MissingFeatureError) Error() string {
	return fmt.Sprintf("feature %s: %s, and entity %q does not send it", e.Ref, e.Why, e.Entity)
}

// UnsupportedValueError is a value the model cannot take.
type UnsupportedValueError struct {
	Ref, Entity string
	Value       any
}

func (e *UnsupportedValueError) Error() string {
	if _, ok := e.Value.(string); ok {
		return fmt.Sprintf("feature %s of entity %q is the string %q: the model reads the feature as a number (only a model trained on it as a categorical feature takes strings)", e.Ref, e.Entity, e.Value)
	}
	return fmt.Sprintf("feature %s of entity %q is %T %v: only numbers, booleans and the strings of categorical features reach a model", e.Ref, e.Entity, e.Value, e.Value)
}

// Encoder is a model's view of its categorical features (models.Loaded):
// whether feature j is one, and the code of a category (NaN when the
// model has no code for it: its missing-value rule applies).
type Encoder interface {
	Categorical(j int) bool
	Code(j int, s string) float64
}

// Encode returns the rows as model l reads them: a categorical feature's
// string becomes its code, a number given for one is taken as its
// decimal text ("3" for 3), and a string for a numeric feature is an
// *UnsupportedValueError. keys are the entities' keys, for the error.
// Rows of a model without categorical features, with no string, are
// returned as they are; otherwise the rows returned have Values of their
// own (rows keep theirs, so another model can encode them again).
func Encode(refs []string, rows []Row, keys []string, l Encoder) ([]Row, error) {
	cat := false
	for j := range refs {
		if l.Categorical(j) {
			cat = true
			break
		}
	}
	out, cloned := rows, false
	for i := range rows {
		r := rows[i]
		if !cat && r.Text == nil {
			continue
		}
		if !cloned {
			out, cloned = slices.Clone(rows), true
		}
		vals := slices.Clone(r.Values)
		text := make([]*string, len(refs))
		if r.Text != nil {
			copy(text, r.Text)
		}
		for j := range refs {
			s := text[j]
			if !l.Categorical(j) {
				if s != nil {
					return nil, &UnsupportedValueError{Ref: refs[j], Entity: keys[i], Value: *s}
				}
				continue
			}
			if s == nil {
				if r.Missing != nil && r.Missing[j] || math.IsNaN(vals[j]) {
					vals[j] = math.NaN()
					continue
				}
				str := strconv.FormatFloat(vals[j], 'g', -1, 64)
				s = &str
				text[j] = s
			}
			vals[j] = l.Code(j, *s)
		}
		out[i].Values, out[i].Text = vals, text
	}
	return out, nil
}

// Fetcher builds model rows from online features.
type Fetcher struct {
	views  func(name string) (*tiles.Plan, bool)
	reader viewReader
}

// NewFetcher returns a fetcher over views and reader.
func NewFetcher(views func(name string) (*tiles.Plan, bool), reader viewReader) *Fetcher {
	return &Fetcher{views: views, reader: reader}
}

type resolved struct {
	query int // index into queries; -1 when not online
	index int // feature index in the view
	why   string
}

// Fetch returns the rows of entities for a model reading refs, at asOf
// (Unix ms), reading Redis once for all views and entities.
func (f *Fetcher) Fetch(ctx context.Context, refs []string, entities []Entity, asOf int64) ([]Row, error) {
	res := make([]resolved, len(refs))
	var queries []tiles.Query
	byView := map[string]int{}
	keys := make([]string, len(entities))
	for i, e := range entities {
		keys[i] = e.Key
	}
	for j, ref := range refs {
		res[j] = resolved{query: -1}
		// A feature every entity sends is not read.
		all := true
		for _, e := range entities {
			if !e.sends(ref) {
				all = false
				break
			}
		}
		if all {
			continue
		}
		view, feat, _ := strings.Cut(ref, ":")
		p, ok := f.views(view)
		if !ok {
			res[j].why = fmt.Sprintf("view %s is not applied", view)
			continue
		}
		_, idx, ok := p.View.Feature(feat)
		if !ok {
			res[j].why = fmt.Sprintf("view %s (version %.12s) has no feature %s", view, p.View.Version, feat)
			continue
		}
		q, ok := byView[view]
		if !ok {
			q = len(queries)
			byView[view] = q
			queries = append(queries, tiles.Query{Plan: p, Entities: keys})
		}
		res[j].query, res[j].index = q, idx
	}
	for j, r := range res {
		if r.query >= 0 || r.why == "" {
			continue
		}
		for _, e := range entities {
			if !e.sends(refs[j]) {
				return nil, &MissingFeatureError{Ref: refs[j], Entity: e.Key, Why: r.why}
			}
		}
	}
	var vals [][][]tiles.Value
	if len(queries) > 0 {
		var err error
		if vals, err = f.reader.ReadViews(ctx, queries, asOf); err != nil {
			return nil, err
		}
	}
	rows := make([]Row, len(entities))
	for i, e := range entities {
		row := Row{Values: make([]float64, len(refs)), Missing: make([]bool, len(refs)), Ages: make([]float64, len(refs)), Freshest: -1, Stalest: -1}
		for j, ref := range refs {
			row.Ages[j] = -1
			if x, ok := e.Request[ref]; ok {
				row.Values[j] = x
				continue
			}
			if s, ok := e.Text[ref]; ok {
				row.setText(j, s)
				continue
			}
			v := vals[res[j].query][i][res[j].index]
			if s, ok := v.V.(string); ok {
				// A category: Encode maps it with the model's vocabulary.
				row.setText(j, s)
			} else {
				x, ok, err := number(v.V)
				if err != nil {
					return nil, &UnsupportedValueError{Ref: ref, Entity: e.Key, Value: v.V}
				}
				if !ok {
					row.Values[j], row.Missing[j] = math.NaN(), true
					continue
				}
				row.Values[j] = x
			}
			if v.Time != 0 {
				age := max(0, float64(asOf-v.Time)/1000)
				row.Ages[j] = age
				if row.Freshest < 0 || age < row.Freshest {
					row.Freshest = age
				}
				row.Stalest = max(row.Stalest, age)
			}
		}
		rows[i] = row
	}
	return rows, nil
}

// number converts a tiles value to a model input: ok is false for null.
func number(v any) (float64, bool, error) {
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case float64:
		if math.IsInf(x, 0) {
			return 0, false, errors.New("infinite")
		}
		if math.IsNaN(x) {
			return 0, false, nil
		}
		return x, true, nil
	case int64:
		return float64(x), true, nil
	case bool:
		if x {
			return 1, true, nil
		}
		return 0, true, nil
	default:
		return 0, false, fmt.Errorf("%T", v)
	}
}
