package tiles

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-ml/tributary/libs/featurespec"
)

// Tile sizes in milliseconds, finest first.
const (
	Level0 int64 = 10_000
	Level1 int64 = 60_000
	Level2 int64 = 3_600_000
	Level3 int64 = 86_400_000
)

// NumLevels is the number of tile sizes.
const NumLevels = 4

// levelSize is the length of the base level l.
func levelSize(l int) int64 { return levels[l].Size }

// Unit returns the level whose size the old edge of a window of w
// milliseconds is rounded to: the largest level not longer than w/24.
func Unit(w int64) int {
	u := 0
	for l := 1; l < NumLevels; l++ {
		if levelSize(l) <= w/24 {
			u = l
		}
	}
	return u
}

// WindowStart is the first millisecond a window of w milliseconds read at
// asOf covers.
func WindowStart(asOf, w int64) int64 {
	return floor(asOf-w, levelSize(Unit(w)))
}

func floor(t, g int64) int64 {
	r := t % g
	if r < 0 {
		r += g
	}
	return t - r
}

// TileKey identifies a tile: its level and start (Unix ms).
type TileKey struct {
	Level int
	Start int64
}

// Cover returns the tiles a window of w milliseconds read at asOf merges,
// oldest first: from the window's start, the largest tile (base or block)
// starting there, until the 10s tile holding asOf is covered. The last tile
// may reach past asOf: it holds no event after asOf, since a state never
// holds an event after the instant it is read at (online asOf is now; the
// offline path builds the state from the events up to asOf).
func Cover(asOf, w int64) []TileKey {
	p := WindowStart(asOf, w)
	end := floor(asOf, Level0) + Level0
	var out []TileKey
	for p < end {
		k := largest(p)
		out = append(out, k)
		p = k.End()
	}
	return out
}

// kind is what an aggregation state keeps.
type kind uint8

const (
	kindCount    kind = iota + 1 // events that pass the filter and have the field
	kindNumeric                  // count, sum, Welford mean and M2, min, max
	kindLast                     // value of the newest event
	kindDistinct                 // set of value hashes
)

func kindOf(a featurespec.Agg) kind {
	switch a {
	case featurespec.AggCount:
		return kindCount
	case featurespec.AggLast, featurespec.AggLatest:
		return kindLast
	case featurespec.AggDistinct:
		return kindDistinct
	}
	return kindNumeric
}

type aggregate struct {
	kind   kind
	typ    featurespec.ValueType // kindLast: the values kept
	field  string
	filter *featurespec.Filter
	key    string
}

type featurePlan struct {
	agg    int   // index of the aggregate (tile state or latest state)
	window int64 // ms; 0 for latest
	wi     int   // index of window in Plan.windows
	latest bool
}

// Plan is a view compiled for applying and reading: its distinct
// aggregates, the features mapped onto them, and how long each tile level
// must be kept. It is immutable and safe for concurrent use.
type Plan struct {
	View      featurespec.View
	aggs      []aggregate // tile states
	latest    []aggregate // latest-value states (not tiled)
	features  []featurePlan
	windows   []int64
	used      map[int64][]int  // per window, the aggregates its features read
	want      map[int64][]bool // the same as a mask over aggs
	retention []int64          // per level, blocks included
	ttl       int64
	lateness  int64
	// aligned: every window is a multiple of Level0, so the tiles a read
	// merges change only when asOf enters another Level0 tile, and the
	// field list and covers of the last one are reused (readCache).
	aligned   bool
	readCache atomic.Pointer[readAt]
	// states are merge's working states (*[]Agg), reused from read to read.
	states sync.Pool
}

// readAt is what reads at instants within one Level0 tile share.
type readAt struct {
	tile   int64 // floor(asOf, Level0)
	fields []string
	covers map[int64][]TileKey
	// index[w][j] is the position in fields of covers[w][j].
	index map[int64][]int
	args  []any // fields, boxed for HMGET
}

// Compile prepares a view.
func Compile(v featurespec.View) *Plan {
	p := &Plan{View: v, ttl: time.Duration(v.TTL).Milliseconds(), lateness: time.Duration(v.Lateness).Milliseconds()}
	index := func(list *[]aggregate, a aggregate) int {
		if i := slices.IndexFunc(*list, func(b aggregate) bool { return b.key == a.key }); i >= 0 {
			return i
		}
		*list = append(*list, a)
		return len(*list) - 1
	}
	for _, f := range v.Features {
		a := aggregate{kind: kindOf(f.Agg), field: f.Field, filter: f.Filter}
		if a.kind == kindLast {
			a.typ = f.Type
		}
		a.key = fmt.Sprintf("%d|%s|%s|%s", a.kind, a.typ, a.field, filterKey(f.Filter))
		if f.Agg == featurespec.AggLatest {
			p.features = append(p.features, featurePlan{agg: index(&p.latest, a), latest: true})
			continue
		}
		w := time.Duration(f.Window).Milliseconds()
		p.features = append(p.features, featurePlan{agg: index(&p.aggs, a), window: w})
		if !slices.Contains(p.windows, w) {
			p.windows = append(p.windows, w)
		}
	}
	slices.Sort(p.windows)
	for i, f := range p.features {
		if !f.latest {
			p.features[i].wi = slices.Index(p.windows, f.window)
		}
	}
	p.aligned = true
	for _, w := range p.windows {
		p.aligned = p.aligned && w%Level0 == 0
	}
	p.used = map[int64][]int{}
	for _, f := range p.features {
		if !f.latest && !slices.Contains(p.used[f.window], f.agg) {
			p.used[f.window] = append(p.used[f.window], f.agg)
		}
	}
	p.want = map[int64][]bool{}
	for w, idx := range p.used {
		mask := make([]bool, len(p.aggs))
		for _, i := range idx {
			mask[i] = true
		}
		p.want[w] = mask
	}
	// Level l is read anywhere in windows whose unit is at or below l, and
	// otherwise only within the last tile of the next level.
	// A block is kept as long as its base level.
	var base [NumLevels]int64
	for l := range NumLevels {
		r := levelSize(min(l+1, NumLevels-1))
		for _, w := range p.windows {
			if Unit(w) <= l {
				r = max(r, w+levelSize(Unit(w)))
			}
		}
		base[l] = r + 2*levelSize(l)
	}
	p.retention = make([]int64, len(levels))
	for l, lv := range levels {
		p.retention[l] = base[lv.Base]
	}
	return p
}

func filterKey(f *featurespec.Filter) string {
	if f == nil {
		return ""
	}
	return fmt.Sprintf("%s %s %v %v", f.Field, f.Op, f.Value, f.Values)
}

// Features are the number of features of the plan's view.
func (p *Plan) Features() int { return len(p.features) }

// Retention is how long, in ms, tiles of level l (base or block) are kept
// behind the newest event (or the wall clock, if earlier), measured from
// their end.
func (p *Plan) Retention(l int) int64 { return p.retention[l] }

// Seq orders events of an entity that share an event time: their Kafka
// partition and offset.
type Seq struct {
	Partition int32
	Offset    int64
}

func (s Seq) compare(o Seq) int {
	return cmp.Or(cmp.Compare(s.Partition, o.Partition), cmp.Compare(s.Offset, o.Offset))
}

// Event is an event as the aggregation reads it.
type Event struct {
	// Time is the instant the event counts from, Unix ms: its event time,
	// or its arrival if it is stamped later (see Arrive).
	Time int64
	// Stamped is the event time the producer stamped, when Arrive moved
	// Time earlier; 0 otherwise.
	Stamped int64
	// ID identifies the event (EventID of its CloudEvents source and id):
	// a second event with the same ID is a duplicate while the first could
	// still count. 0: not checked.
	ID  uint64
	Seq Seq
	// Fields are the top-level fields of the event data, as encoding/json
	// decodes them (float64, string, bool, nil, maps, slices).
	Fields map[string]any
}

// Arrive caps the event's time at its arrival (Unix ms; the Kafka record
// timestamp ingest wrote when it acknowledged the event; 0: unknown): an
// event stamped after it arrived counts from its arrival, so that no state
// ever holds an event after the instant it is read at. The online and the
// offline paths both call it, with the same arrival.
func (e *Event) Arrive(arrival int64) {
	if arrival > 0 && e.Time > arrival {
		e.Stamped, e.Time = e.Time, arrival
	}
}

// EventID is the identity of an event: a 64-bit FNV-1a digest of its
// CloudEvents source and id (never 0).
func EventID(source, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write([]byte(id))
	if d := h.Sum64(); d != 0 {
		return d
	}
	return 1
}

// horizon is the time a duplicate of e is recognised by: its stamped time
// (a copy can count no later than that).
func (e Event) horizon() int64 { return max(e.Time, e.Stamped) }

// Agg is one aggregation state.
type Agg struct {
	N      int64
	Sum    float64
	Mean   float64
	M2     float64
	Min    float64
	Max    float64
	Newest int64 // newest event time included, Unix ms
	Last   any   // kindLast: value of the newest event (float64, string, bool)
	LastT  int64
	LastS  Seq
	Set    []uint64 // kindDistinct: value hashes, sorted and unique in a tile
}

// State is the state of one entity in one view.
type State struct {
	// Newest is the newest event time applied, Unix ms; meaningful when
	// Events > 0.
	Newest int64
	// Events counts the events applied.
	Events int64
	// Latest holds the latest-value states.
	Latest []Agg
	// Tiles holds the tile states, one Agg per aggregate of the plan.
	Tiles map[TileKey][]Agg
	// Offsets are the last applied offsets per partition.
	Offsets map[int32]int64
	// Seen maps the ID of each applied event to its horizon (its stamped
	// time) while a copy of it could still count: an entry older than the
	// newest event by more than the lateness is void (a copy that old is
	// late anyway) and is dropped when the state is written.
	Seen map[uint64]int64

	dirty     map[TileKey]bool
	metaDirty bool
	seenDirty bool
}

// NewState returns the empty state of an entity.
func NewState(p *Plan) *State {
	return &State{Latest: make([]Agg, len(p.latest)), Tiles: map[TileKey][]Agg{}, Offsets: map[int32]int64{}, dirty: map[TileKey]bool{}}
}

// Outcome says what Apply did with an event.
type Outcome int

// Outcomes.
const (
	Applied   Outcome = iota
	Duplicate         // at or below the partition's last applied offset, or an ID already applied
	Late              // older than the newest event by more than the lateness
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Duplicate:
		return "duplicate"
	}
	return "late"
}

// Apply adds an event to the state. ref is the instant tiles older than the
// retention are measured from (the wall clock online, math.MaxInt64
// offline, which keeps everything): a tile that no read at or after ref can
// need is not written.
//
// An event is skipped as Duplicate when its offset is at or below the last
// applied offset of its partition (a replay), or when an event with the
// same ID was applied and could still count (a copy re-sent by a producer);
// it is Late when older than the newest event by more than the lateness.
// The outcome depends only on the events applied before, in Kafka order:
// Accept computes the same outcomes for the offline path.
func (s *State) Apply(p *Plan, e Event, ref int64) Outcome {
	o := s.admit(p, e)
	if o == Applied {
		s.add(p, e, ref)
	}
	return o
}

// Add adds an event that Accept admitted, without the checks of Apply: the
// offline path builds the state at an instant from the admitted events up
// to it.
func (s *State) Add(p *Plan, e Event) { s.add(p, e, math.MaxInt64) }

func (s *State) admit(p *Plan, e Event) Outcome {
	if last, ok := s.Offsets[e.Seq.Partition]; ok && e.Seq.Offset <= last {
		return Duplicate
	}
	s.Offsets[e.Seq.Partition] = e.Seq.Offset
	s.metaDirty = true
	if e.ID != 0 {
		if h, ok := s.Seen[e.ID]; ok && s.live(p, h) {
			return Duplicate
		}
	}
	if s.Events > 0 && e.Time < s.Newest-p.lateness {
		return Late
	}
	if e.ID != 0 {
		if s.Seen == nil {
			s.Seen = map[uint64]int64{}
		}
		s.Seen[e.ID] = e.horizon()
		s.seenDirty = true
	}
	return Applied
}

// live reports whether an applied event whose horizon is h can still have
// a copy that counts.
func (s *State) live(p *Plan, h int64) bool { return s.Events == 0 || h >= s.Newest-p.lateness }

func (s *State) add(p *Plan, e Event, ref int64) {
	if s.Events == 0 || e.Time > s.Newest {
		s.Newest = e.Time
	}
	s.Events++
	for i, a := range p.latest {
		a.add(&s.Latest[i], e)
	}
	if len(p.aggs) == 0 {
		return
	}
	ref = min(ref, s.Newest)
	for l := range levels {
		k, ok := containing(l, e.Time)
		if !ok || k.End() <= ref-p.retention[l] {
			continue
		}
		t, ok := s.Tiles[k]
		if !ok {
			t = make([]Agg, len(p.aggs))
			s.Tiles[k] = t
		}
		for i, a := range p.aggs {
			a.add(&t[i], e)
		}
		if s.dirty == nil {
			s.dirty = map[TileKey]bool{}
		}
		s.dirty[k] = true
	}
}

// Accept returns the events, in Kafka order, that Apply applies when given
// them in that order: without replays, copies and late events. A late
// event is judged against every event before it, including those after the
// instant a training row is computed at, as the online path judged it when
// it arrived: an event the online path refused never reaches a training
// set.
func (p *Plan) Accept(evs []Event) []Event {
	s := &State{Offsets: map[int32]int64{}}
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		if s.admit(p, e) != Applied {
			continue
		}
		if s.Events == 0 || e.Time > s.Newest {
			s.Newest = e.Time
		}
		s.Events++
		out = append(out, e)
	}
	return out
}

// Prune drops the tiles that no read at or after ref can need and returns
// their keys.
func (s *State) Prune(p *Plan, ref int64) []TileKey {
	ref = min(ref, s.Newest)
	var out []TileKey
	for k := range s.Tiles {
		if k.End() <= ref-p.retention[k.Level] {
			out = append(out, k)
			delete(s.Tiles, k)
			delete(s.dirty, k)
		}
	}
	return out
}

func (a aggregate) add(st *Agg, e Event) {
	if a.filter != nil && !match(a.filter, e.Fields[a.filter.Field]) {
		return
	}
	var v any
	if a.field != "" {
		v = e.Fields[a.field]
		if v == nil {
			return
		}
	}
	switch a.kind {
	case kindCount:
		st.N++
	case kindNumeric:
		x, ok := v.(float64)
		if !ok {
			return
		}
		if st.N == 0 {
			st.Min, st.Max = x, x
		} else {
			st.Min, st.Max = math.Min(st.Min, x), math.Max(st.Max, x)
		}
		st.N++
		st.Sum += x
		d := x - st.Mean
		st.Mean += d / float64(st.N)
		st.M2 += d * (x - st.Mean)
	case kindLast:
		if !typed(a.typ, v) {
			return
		}
		if st.N == 0 || e.Time > st.LastT || (e.Time == st.LastT && e.Seq.compare(st.LastS) > 0) {
			st.Last, st.LastT, st.LastS = v, e.Time, e.Seq
		}
		st.N++
	case kindDistinct:
		h, ok := hashValue(v)
		if !ok {
			return
		}
		if i, found := slices.BinarySearch(st.Set, h); !found {
			st.Set = slices.Insert(st.Set, i, h)
		}
		st.N++
	}
	if st.N == 1 || e.Time > st.Newest {
		st.Newest = e.Time
	}
}

// typed reports whether a decoded JSON value has the feature's type.
func typed(t featurespec.ValueType, v any) bool {
	switch v.(type) {
	case float64:
		return t == featurespec.ValueFloat || t == featurespec.ValueInt
	case string:
		return t == featurespec.ValueString
	case bool:
		return t == featurespec.ValueBool
	}
	return false
}

func hashValue(v any) (uint64, bool) {
	h := fnv.New64a()
	switch x := v.(type) {
	case float64:
		h.Write([]byte{'n'})
		h.Write(strconv.AppendFloat(nil, x, 'g', -1, 64))
	case string:
		h.Write([]byte{'s'})
		h.Write([]byte(x))
	case bool:
		h.Write([]byte{'b'})
		h.Write(strconv.AppendBool(nil, x))
	default:
		return 0, false
	}
	return h.Sum64(), true
}

func match(f *featurespec.Filter, v any) bool {
	if v == nil {
		return false
	}
	switch f.Op {
	case featurespec.OpEq:
		return v == f.Value
	case featurespec.OpNe:
		return v != f.Value
	case featurespec.OpIn:
		return slices.Contains(f.Values, v)
	}
	x, ok1 := v.(float64)
	y, ok2 := f.Value.(float64)
	if !ok1 || !ok2 {
		return false
	}
	switch f.Op {
	case featurespec.OpGt:
		return x > y
	case featurespec.OpGe:
		return x >= y
	case featurespec.OpLt:
		return x < y
	case featurespec.OpLe:
		return x <= y
	}
	return false
}

// merge folds b into a; b is the later tile.
func merge(k kind, a *Agg, b Agg) {
	if b.N == 0 {
		return
	}
	if a.N == 0 {
		set := a.Set[:0] // a's own array (Plan.merge's, reused), or nil
		*a = b
		a.Set = nil
		if k == kindDistinct {
			a.Set = append(set, b.Set...)
		}
		return
	}
	switch k {
	case kindNumeric:
		n := a.N + b.N
		d := b.Mean - a.Mean
		a.Mean += d * float64(b.N) / float64(n)
		a.M2 += b.M2 + d*d*float64(a.N)*float64(b.N)/float64(n)
		a.Sum += b.Sum
		a.Min, a.Max = math.Min(a.Min, b.Min), math.Max(a.Max, b.Max)
	case kindLast:
		if b.LastT > a.LastT || (b.LastT == a.LastT && b.LastS.compare(a.LastS) > 0) {
			a.Last, a.LastT, a.LastS = b.Last, b.LastT, b.LastS
		}
	case kindDistinct:
		// Duplicates across tiles are removed when the value is read.
		a.Set = append(a.Set, b.Set...)
	}
	a.N += b.N
	a.Newest = max(a.Newest, b.Newest)
}

// Value is a feature's value at an instant: V is nil (null), a float64, an
// int64, a string or a bool; Time is the event time (Unix ms) of the newest
// event it includes, 0 when none.
type Value struct {
	V    any
	Time int64
}

// ErrUnknownFeature reports a feature index out of range.
var ErrUnknownFeature = errors.New("unknown feature")

// Read computes every feature of the plan at asOf. A nil state (unknown
// entity), or one whose newest event is older than the view's TTL at asOf,
// reads as nulls. Events after asOf must not be in the state: the offline
// path builds it from the events up to asOf, and online asOf is now.
func (p *Plan) Read(s *State, asOf int64) []Value {
	return p.read(s, asOf, p.covers(asOf))
}

// cached returns the fields and covers of a read at asOf, computed once per
// Level0 tile when the plan is aligned. Both are shared: read only.
func (p *Plan) cached(asOf int64) *readAt {
	tile := floor(asOf, Level0)
	if c := p.readCache.Load(); c != nil && c.tile == tile {
		return c
	}
	c := p.computeAt(asOf)
	if p.aligned {
		p.readCache.Store(c)
	}
	return c
}

// at returns what a read at asOf needs: cached when the plan is aligned.
func (p *Plan) at(asOf int64) *readAt {
	if p.aligned {
		return p.cached(asOf)
	}
	return p.computeAt(asOf)
}

func (p *Plan) computeAt(asOf int64) *readAt {
	c := &readAt{tile: floor(asOf, Level0), fields: []string{FieldMeta}, covers: p.computeCovers(asOf), index: map[int64][]int{}}
	pos := map[TileKey]int{}
	for _, w := range p.windows {
		idx := make([]int, len(c.covers[w]))
		for j, k := range c.covers[w] {
			i, ok := pos[k]
			if !ok {
				i = len(c.fields)
				pos[k] = i
				c.fields = append(c.fields, TileField(k))
			}
			idx[j] = i
		}
		c.index[w] = idx
	}
	c.args = make([]any, len(c.fields))
	for i, f := range c.fields {
		c.args[i] = f
	}
	return c
}

// covers returns the tiles each window of the plan merges at asOf.
func (p *Plan) covers(asOf int64) map[int64][]TileKey {
	if p.aligned {
		return p.cached(asOf).covers
	}
	return p.computeCovers(asOf)
}

func (p *Plan) computeCovers(asOf int64) map[int64][]TileKey {
	out := make(map[int64][]TileKey, len(p.windows))
	for _, w := range p.windows {
		out[w] = Cover(asOf, w)
	}
	return out
}

func (p *Plan) read(s *State, asOf int64, covers map[int64][]TileKey) []Value {
	return p.merge(s, asOf, covers, nil)
}

// maxPooledSet is the largest distinct set array kept for the next read.
const maxPooledSet = 1 << 16

// merge computes the features of s at asOf, merging each window's cover in
// time order. The tiles come from s.Tiles, or, when raw is not nil, from
// raw (the encoded j-th tile k of window w's cover; nil: no such tile),
// decoding per window only the states its features use.
func (p *Plan) merge(s *State, asOf int64, covers map[int64][]TileKey, raw func(w int64, j int, k TileKey) []byte) []Value {
	out := make([]Value, len(p.features))
	if s == nil || s.Events == 0 || s.Newest < asOf-p.ttl {
		return out
	}
	// The merged states of every window and the decoded tile (merge copies
	// what it keeps of it), in one array reused from read to read: the
	// merged states are zeroed when given back, but for the arrays of their
	// distinct sets (the decoded tile is reset by decodeInto, its distinct
	// sets' arrays kept too).
	nm := len(p.windows) * len(p.aggs)
	buf, _ := p.states.Get().(*[]Agg)
	if buf == nil || len(*buf) != nm+len(p.aggs) {
		b := make([]Agg, nm+len(p.aggs))
		buf = &b
	}
	all := *buf
	defer func() {
		for i := range all[:nm] {
			set := all[i].Set[:0]
			if cap(set) > maxPooledSet {
				set = nil
			}
			all[i] = Agg{Set: set}
		}
		p.states.Put(buf)
	}()
	merged := make([][]Agg, 0, 8)
	scratch := all[nm:]
	for wi, w := range p.windows {
		m := all[wi*len(p.aggs) : (wi+1)*len(p.aggs) : (wi+1)*len(p.aggs)]
		for j, k := range covers[w] {
			var t []Agg
			if raw == nil {
				var ok bool
				if t, ok = s.Tiles[k]; !ok {
					continue
				}
			} else {
				b := raw(w, j, k)
				if b == nil {
					continue
				}
				p.decodeInto(b, p.want[w], scratch)
				t = scratch
			}
			for _, i := range p.used[w] {
				merge(p.aggs[i].kind, &m[i], t[i])
			}
		}
		merged = append(merged, m)
	}
	for i, f := range p.features {
		feat := p.View.Features[i]
		var st Agg
		if f.latest {
			st = s.Latest[f.agg]
		} else {
			st = merged[f.wi][f.agg]
		}
		out[i] = value(feat.Agg, st, feat.Type == featurespec.ValueInt)
		if x, ok := out[i].V.(float64); ok && feat.Type == featurespec.ValueInt {
			out[i].V = int64(x)
		}
	}
	return out
}

// value is the value of aggregate a of st; asInt: a number is an int64
// (the feature's type is int), boxed once.
func value(a featurespec.Agg, st Agg, asInt bool) Value {
	num := func(f float64) any {
		if asInt {
			return int64(f)
		}
		return f
	}
	v := Value{Time: st.Newest}
	switch a {
	case featurespec.AggCount:
		v.V = st.N
	case featurespec.AggDistinct:
		slices.Sort(st.Set)
		v.V = int64(len(slices.Compact(st.Set)))
	case featurespec.AggSum:
		v.V = num(st.Sum)
	}
	if st.N == 0 {
		v.Time = 0
		return v
	}
	switch a {
	case featurespec.AggMean:
		v.V = num(st.Mean)
	case featurespec.AggMin:
		v.V = num(st.Min)
	case featurespec.AggMax:
		v.V = num(st.Max)
	case featurespec.AggStddev:
		v.V = num(math.Sqrt(st.M2 / float64(st.N)))
	case featurespec.AggLast, featurespec.AggLatest:
		v.V = st.Last
		v.Time = st.LastT
	}
	return v
}
