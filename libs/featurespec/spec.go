package featurespec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid reports a definition that cannot be used; the error names the
// place (views[0].features[2].windows[1]) and the rule.
var ErrInvalid = errors.New("invalid feature definition")

// File is a definition file as people write it.
type File struct {
	Entities []Entity   `yaml:"entities" json:"entities"`
	Sources  []Source   `yaml:"sources" json:"sources"`
	Views    []ViewSpec `yaml:"views" json:"views"`
}

// Entity is what features describe (a user, an item).
type Entity struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
}

// Source is a stream that views read.
type Source struct {
	Name string `yaml:"name" json:"name"`
	// Stream is the stream name: events come from tributary.events.<stream>.
	Stream string `yaml:"stream" json:"stream"`
	// EntityKey is the JSON pointer of the entity key in the event data.
	// It must be the stream's entity key (the Kafka record key), which the
	// materializer reads.
	EntityKey string `yaml:"entity_key" json:"entity_key"`
	// EventTime is the JSON pointer of the event-time field (RFC 3339); empty:
	// the CloudEvents time attribute.
	EventTime string `yaml:"event_time,omitempty" json:"event_time,omitempty"`
	// Fields declares the types of the data fields features use: number,
	// integer, string or boolean. When the stream definition is known
	// (Check), fields missing here are taken from its schema.
	Fields map[string]FieldType `yaml:"fields,omitempty" json:"fields,omitempty"`
}

// ViewSpec is a feature view as written.
type ViewSpec struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	Entity      string `yaml:"entity" json:"entity"`
	Source      string `yaml:"source" json:"source"`
	// TTL: an entity whose newest event is older than TTL at read time
	// reads as nulls, and its online state expires. Default 7d; at least
	// the longest window.
	TTL Duration `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	// Lateness: an event older than the entity's newest event by more than
	// Lateness is not applied (counted and dead-lettered). Default 1h.
	Lateness Duration      `yaml:"lateness,omitempty" json:"lateness,omitempty"`
	Features []FeatureSpec `yaml:"features" json:"features"`
}

// FeatureSpec is a feature as written; windows expand it into Features.
type FeatureSpec struct {
	Name        string     `yaml:"name" json:"name"`
	Description string     `yaml:"description,omitempty" json:"description,omitempty"`
	Agg         Agg        `yaml:"agg" json:"agg"`
	Field       string     `yaml:"field,omitempty" json:"field,omitempty"`
	Windows     []Duration `yaml:"windows,omitempty" json:"windows,omitempty"`
	Filter      *Filter    `yaml:"filter,omitempty" json:"filter,omitempty"`
}

// Filter keeps the events whose Field compares to Value (or is in Values).
type Filter struct {
	Field  string `yaml:"field" json:"field"`
	Op     Op     `yaml:"op" json:"op"`
	Value  any    `yaml:"value,omitempty" json:"value,omitempty"`
	Values []any  `yaml:"values,omitempty" json:"values,omitempty"`
}

// Agg names an aggregation.
type Agg string

// Aggregations.
const (
	AggLatest   Agg = "latest" // latest value of the field, no window
	AggCount    Agg = "count"
	AggSum      Agg = "sum"
	AggMean     Agg = "mean"
	AggMin      Agg = "min"
	AggMax      Agg = "max"
	AggLast     Agg = "last" // value of the newest event in the window
	AggStddev   Agg = "stddev"
	AggDistinct Agg = "distinct" // number of distinct values
)

// Op is a filter comparison.
type Op string

// Filter operators.
const (
	OpEq Op = "eq"
	OpNe Op = "ne"
	OpIn Op = "in"
	OpGt Op = "gt"
	OpGe Op = "ge"
	OpLt Op = "lt"
	OpLe Op = "le"
)

// FieldType is the type of a data field, in JSON Schema's words.
type FieldType string

// Field types.
const (
	TypeNumber  FieldType = "number"
	TypeInteger FieldType = "integer"
	TypeString  FieldType = "string"
	TypeBoolean FieldType = "boolean"
)

// ValueType is the type of a feature's value.
type ValueType string

// Value types.
const (
	ValueFloat  ValueType = "float"
	ValueInt    ValueType = "int"
	ValueString ValueType = "string"
	ValueBool   ValueType = "bool"
)

// Duration is a time.Duration written as Go does ("90s", "1h30m") or in
// days and weeks ("7d", "2w").
type Duration time.Duration

// ParseDuration reads a Duration.
func ParseDuration(s string) (Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		return days(n, s, 24*time.Hour)
	}
	if n, ok := strings.CutSuffix(s, "w"); ok {
		return days(n, s, 7*24*time.Hour)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (5m, 1h, 7d)", s)
	}
	return Duration(d), nil
}

func days(n, s string, unit time.Duration) (Duration, error) {
	v, err := strconv.Atoi(n)
	if err != nil || v < 0 || v > 3650 {
		return 0, fmt.Errorf("%q is not a duration (5m, 1h, 7d)", s)
	}
	return Duration(time.Duration(v) * unit), nil
}

// String writes d in the shortest of days, hours, minutes, seconds.
func (d Duration) String() string {
	td := time.Duration(d)
	for _, u := range []struct {
		d time.Duration
		s string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if td >= u.d && td%u.d == 0 {
			return strconv.FormatInt(int64(td/u.d), 10) + u.s
		}
	}
	return td.String()
}

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes the duration as its string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// View is a resolved, checked feature view: self-contained (its entity and
// source inline), with its features expanded per window. It is what the KV
// bucket holds (the Definition of model.FeatureView) and what the
// aggregation code reads.
type View struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Entity      Entity    `json:"entity"`
	Source      Source    `json:"source"`
	TTL         Duration  `json:"ttl"`
	Lateness    Duration  `json:"lateness"`
	Features    []Feature `json:"features"`
	// Version is the hex sha256 of the canonical JSON of the view without
	// Version; set by Resolve and checked by DecodeView.
	Version string `json:"version,omitempty"`
}

// Feature is one value of a view: an aggregation over one window, or the
// latest value of a field (Window 0).
type Feature struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Agg         Agg       `json:"agg"`
	Field       string    `json:"field,omitempty"`
	Window      Duration  `json:"window,omitempty"`
	Filter      *Filter   `json:"filter,omitempty"`
	Type        ValueType `json:"type"`
}

// Ref is the feature's reference, "view:feature".
func (v *View) Ref(f Feature) string { return v.Name + ":" + f.Name }

// Feature returns the feature named name and its index.
func (v *View) Feature(name string) (Feature, int, bool) {
	for i, f := range v.Features {
		if f.Name == name {
			return f, i, true
		}
	}
	return Feature{}, -1, false
}

// Names are the names of the view's features in order.
func (v *View) Names() []string {
	out := make([]string, len(v.Features))
	for i, f := range v.Features {
		out[i] = f.Name
	}
	return out
}

// MaxWindow is the longest window of the view (0 when it has none).
func (v *View) MaxWindow() time.Duration {
	var m time.Duration
	for _, f := range v.Features {
		m = max(m, time.Duration(f.Window))
	}
	return m
}

// Windows are the distinct windows of the view, shortest first.
func (v *View) Windows() []time.Duration {
	var out []time.Duration
	for _, f := range v.Features {
		if f.Window > 0 && !slices.Contains(out, time.Duration(f.Window)) {
			out = append(out, time.Duration(f.Window))
		}
	}
	slices.Sort(out)
	return out
}

// Defaults.
const (
	DefaultTTL      = Duration(7 * 24 * time.Hour)
	DefaultLateness = Duration(time.Hour)
	// MinWindow and MaxWindowLength bound windows; windows are whole
	// multiples of MinWindow (the finest tile).
	MinWindow       = Duration(10 * time.Second)
	MaxWindowLength = Duration(400 * 24 * time.Hour)
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ValidName reports whether s can name an entity, source, view or feature:
// a lowercase letter, then up to 63 lowercase letters, digits or '_' (no
// dots or colons, which separate KV key tokens and feature references).
func ValidName(s string) bool { return nameRE.MatchString(s) }

var fieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// Parse decodes a YAML file (unknown fields are errors), checks it and
// resolves its views. Errors wrap ErrInvalid.
func Parse(b []byte) ([]View, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty file", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrInvalid)
	}
	return f.Resolve()
}

func bad(place, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, place, fmt.Sprintf(format, args...))
}

// Resolve checks the file and returns its views, resolved and versioned.
func (f *File) Resolve() ([]View, error) {
	entities := map[string]Entity{}
	for i, e := range f.Entities {
		place := fmt.Sprintf("entities[%d]", i)
		if !ValidName(e.Name) {
			return nil, bad(place+".name", "%q is not a name (lowercase letter, then lowercase letters, digits or '_', at most 64)", e.Name)
		}
		if _, dup := entities[e.Name]; dup {
			return nil, bad(place+".name", "duplicate entity %q", e.Name)
		}
		entities[e.Name] = e
	}
	sources := map[string]Source{}
	for i, s := range f.Sources {
		place := fmt.Sprintf("sources[%d]", i)
		if err := s.check(place); err != nil {
			return nil, err
		}
		if _, dup := sources[s.Name]; dup {
			return nil, bad(place+".name", "duplicate source %q", s.Name)
		}
		sources[s.Name] = s
	}
	if len(f.Views) == 0 {
		return nil, bad("views", "no view defined")
	}
	seen := map[string]bool{}
	out := make([]View, 0, len(f.Views))
	for i, vs := range f.Views {
		place := fmt.Sprintf("views[%d]", i)
		if !ValidName(vs.Name) {
			return nil, bad(place+".name", "%q is not a name (lowercase letter, then lowercase letters, digits or '_', at most 64)", vs.Name)
		}
		if seen[vs.Name] {
			return nil, bad(place+".name", "duplicate view %q", vs.Name)
		}
		seen[vs.Name] = true
		e, ok := entities[vs.Entity]
		if !ok {
			return nil, bad(place+".entity", "unknown entity %q", vs.Entity)
		}
		s, ok := sources[vs.Source]
		if !ok {
			return nil, bad(place+".source", "unknown source %q", vs.Source)
		}
		v, err := resolveView(place, vs, e, s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (s Source) check(place string) error {
	switch {
	case !ValidName(s.Name):
		return bad(place+".name", "%q is not a name", s.Name)
	case !regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`).MatchString(s.Stream):
		return bad(place+".stream", "%q is not a stream name", s.Stream)
	case !validPointer(s.EntityKey) || s.EntityKey == "":
		return bad(place+".entity_key", "%q is not a JSON pointer to a field (\"/user_id\")", s.EntityKey)
	case s.EventTime != "" && !validPointer(s.EventTime):
		return bad(place+".event_time", "%q is not a JSON pointer to a field (\"/ts\"), nor empty for the CloudEvents time", s.EventTime)
	}
	for name, t := range s.Fields {
		if !fieldRE.MatchString(name) {
			return bad(place+".fields", "%q is not a top-level field name", name)
		}
		switch t {
		case TypeNumber, TypeInteger, TypeString, TypeBoolean:
		default:
			return bad(place+".fields."+name, "type %q is not number, integer, string or boolean", t)
		}
	}
	return nil
}

func validPointer(p string) bool { return strings.HasPrefix(p, "/") && len(p) > 1 }

func resolveView(place string, vs ViewSpec, e Entity, s Source) (View, error) {
	v := View{Name: vs.Name, Description: vs.Description, Entity: e, Source: s, TTL: vs.TTL, Lateness: vs.Lateness}
	if v.TTL == 0 {
		v.TTL = DefaultTTL
	}
	if vs.Lateness == 0 {
		v.Lateness = DefaultLateness
	}
	if v.TTL < 0 {
		return View{}, bad(place+".ttl", "negative")
	}
	if v.Lateness < 0 {
		return View{}, bad(place+".lateness", "negative")
	}
	if len(vs.Features) == 0 {
		return View{}, bad(place+".features", "no feature defined")
	}
	names := map[string]string{}
	for j, fs := range vs.Features {
		fplace := fmt.Sprintf("%s.features[%d]", place, j)
		feats, err := resolveFeature(fplace, fs, s)
		if err != nil {
			return View{}, err
		}
		for _, f := range feats {
			if prev, dup := names[f.Name]; dup {
				return View{}, bad(fplace+".name", "feature %q is defined twice (also by %s)", f.Name, prev)
			}
			names[f.Name] = fplace
			v.Features = append(v.Features, f)
		}
	}
	if mw := v.MaxWindow(); time.Duration(v.TTL) < mw {
		return View{}, bad(place+".ttl", "%s is shorter than the longest window %s", v.TTL, Duration(mw))
	}
	v.Version = v.hash()
	return v, nil
}

func resolveFeature(place string, fs FeatureSpec, s Source) ([]Feature, error) {
	if !ValidName(fs.Name) {
		return nil, bad(place+".name", "%q is not a name (lowercase letter, then lowercase letters, digits or '_', at most 64)", fs.Name)
	}
	f := Feature{Name: fs.Name, Description: fs.Description, Agg: fs.Agg, Field: fs.Field, Filter: fs.Filter}
	needField := true
	switch fs.Agg {
	case AggCount:
		needField = false
		f.Type = ValueInt
	case AggDistinct:
		f.Type = ValueInt
	case AggSum, AggMean, AggMin, AggMax, AggStddev:
		f.Type = ValueFloat
	case AggLast, AggLatest:
	case "":
		return nil, bad(place+".agg", "missing (latest, count, sum, mean, min, max, last, stddev or distinct)")
	default:
		return nil, bad(place+".agg", "unknown aggregation %q (latest, count, sum, mean, min, max, last, stddev or distinct)", fs.Agg)
	}
	if fs.Field == "" {
		if needField {
			return nil, bad(place+".field", "aggregation %s needs a field", fs.Agg)
		}
	} else {
		if !fieldRE.MatchString(fs.Field) {
			return nil, bad(place+".field", "%q is not a top-level field name", fs.Field)
		}
		t, ok := s.Fields[fs.Field]
		if !ok {
			return nil, bad(place+".field", "unknown field %q (not in the fields of source %s)", fs.Field, s.Name)
		}
		switch fs.Agg {
		case AggSum, AggMean, AggMin, AggMax, AggStddev:
			if t != TypeNumber && t != TypeInteger {
				return nil, bad(place+".field", "aggregation %s needs a number or integer field, %q is %s", fs.Agg, fs.Field, t)
			}
		case AggLast, AggLatest:
			f.Type = valueType(t)
		}
	}
	if f.Filter != nil {
		if err := checkFilter(place+".filter", f.Filter, s); err != nil {
			return nil, err
		}
	}
	if fs.Agg == AggLatest {
		if len(fs.Windows) > 0 {
			return nil, bad(place+".windows", "aggregation latest takes no window")
		}
		return []Feature{f}, nil
	}
	if len(fs.Windows) == 0 {
		return nil, bad(place+".windows", "aggregation %s needs at least one window", fs.Agg)
	}
	var out []Feature
	for k, w := range fs.Windows {
		wplace := fmt.Sprintf("%s.windows[%d]", place, k)
		switch {
		case w < MinWindow:
			return nil, bad(wplace, "%s is shorter than %s", w, MinWindow)
		case w > MaxWindowLength:
			return nil, bad(wplace, "%s is longer than %s", w, MaxWindowLength)
		case time.Duration(w)%time.Duration(MinWindow) != 0:
			return nil, bad(wplace, "%s is not a whole multiple of %s", time.Duration(w), MinWindow)
		}
		g := f
		g.Window = w
		g.Name = fs.Name + "_" + w.String()
		out = append(out, g)
	}
	return out, nil
}

func valueType(t FieldType) ValueType {
	switch t {
	case TypeInteger:
		return ValueInt
	case TypeString:
		return ValueString
	case TypeBoolean:
		return ValueBool
	}
	return ValueFloat
}

func checkFilter(place string, fl *Filter, s Source) error {
	if !fieldRE.MatchString(fl.Field) {
		return bad(place+".field", "%q is not a top-level field name", fl.Field)
	}
	t, ok := s.Fields[fl.Field]
	if !ok {
		return bad(place+".field", "unknown field %q (not in the fields of source %s)", fl.Field, s.Name)
	}
	check := func(vplace string, v any) error {
		switch v.(type) {
		case float64, int, int64, uint64:
			if t != TypeNumber && t != TypeInteger {
				return bad(vplace, "%v is a number, field %q is %s", v, fl.Field, t)
			}
		case string:
			if t != TypeString {
				return bad(vplace, "%q is a string, field %q is %s", v, fl.Field, t)
			}
		case bool:
			if t != TypeBoolean {
				return bad(vplace, "%v is a boolean, field %q is %s", v, fl.Field, t)
			}
		default:
			return bad(vplace, "%v is not a number, string or boolean", v)
		}
		return nil
	}
	switch fl.Op {
	case OpEq, OpNe:
		if fl.Value == nil || len(fl.Values) > 0 {
			return bad(place, "op %s needs value (and no values)", fl.Op)
		}
		if err := check(place+".value", fl.Value); err != nil {
			return err
		}
	case OpGt, OpGe, OpLt, OpLe:
		if fl.Value == nil || len(fl.Values) > 0 {
			return bad(place, "op %s needs value (and no values)", fl.Op)
		}
		if t != TypeNumber && t != TypeInteger {
			return bad(place+".op", "op %s needs a number or integer field, %q is %s", fl.Op, fl.Field, t)
		}
		if err := check(place+".value", fl.Value); err != nil {
			return err
		}
	case OpIn:
		if fl.Value != nil || len(fl.Values) == 0 {
			return bad(place, "op in needs values (and no value)")
		}
		for i, v := range fl.Values {
			if err := check(fmt.Sprintf("%s.values[%d]", place, i), v); err != nil {
				return err
			}
		}
	default:
		return bad(place+".op", "unknown operator %q (eq, ne, in, gt, ge, lt, le)", fl.Op)
	}
	fl.Value = normalize(fl.Value)
	for i := range fl.Values {
		fl.Values[i] = normalize(fl.Values[i])
	}
	return nil
}

// normalize turns numbers into float64, the type the data decoder yields.
func normalize(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case uint64:
		return float64(n)
	}
	return v
}

// hash is the hex sha256 of the canonical JSON of v without its version.
func (v View) hash() string {
	v.Version = ""
	b, err := json.Marshal(v)
	if err != nil {
		// A resolved view holds only strings, numbers and booleans.
		b = []byte(fmt.Sprint(v))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Canonical returns the JSON form stored as model.FeatureView.Definition.
func (v View) Canonical() ([]byte, error) { return json.Marshal(v) }

// DecodeView reads a View from its canonical JSON and checks its version.
func DecodeView(b []byte) (View, error) {
	var v View
	if err := json.Unmarshal(b, &v); err != nil {
		return View{}, fmt.Errorf("%w: decode view: %v", ErrInvalid, err)
	}
	if h := v.hash(); h != v.Version {
		return View{}, fmt.Errorf("%w: view %s: version %q does not match its content (%s)", ErrInvalid, v.Name, v.Version, h)
	}
	return v, nil
}
