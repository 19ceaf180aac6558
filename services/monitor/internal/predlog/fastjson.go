package predlog

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Decoder decodes prediction records as Decode does, keeping what records
// repeat: the envelopes libs/event accepted (see envelope.go), the strings
// of the model names, aliases, feature references and categorical values it
// has seen (at most maxInterned), shared by the predictions that carry them,
// and the sorted feature lists (numeric and categorical) of the last record,
// shared by the rows of the records that have the same features (so
// Row.FeatureNames and Row.CategoricalNames must not be modified). It is
// not safe for concurrent use: use one per goroutine.
type Decoder struct {
	shapes   map[string]string
	shapeBuf []byte
	strs     map[string]string
	// The features and the categorical features of the last record.
	numeric     namedValues[float64]
	categorical namedValues[string]
}

// namedValues keeps the names of one object of features of the last record,
// in increasing order, and the buffers of the object being read.
type namedValues[T any] struct {
	last     []string
	namesBuf []string
	valsBuf  []nullable[T]
}

// nullable is a feature value; null for JSON's null.
type nullable[T any] struct {
	v    T
	null bool
}

// maxInterned bounds the strings a Decoder keeps.
const maxInterned = 1 << 14

// NewDecoder returns a decoder.
func NewDecoder() *Decoder { return &Decoder{strs: map[string]string{}} }

// intern returns b as a string, the same string for the same bytes while
// d has room for it; a nil d interns nothing.
func (d *Decoder) intern(b []byte) string {
	if d == nil {
		return string(b)
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.strs != nil && len(d.strs) < maxInterned {
		d.strs[s] = s
	}
	return s
}

// decodeData decodes the data of a prediction record into p. The record
// serving writes (encoding/json's compact output of event.PredictionLogged)
// is read by decodeFast, a parser of that one schema that does not go
// through reflection; anything it does not read exactly as encoding/json
// would (an unknown or differently cased key, a key given twice, a string
// with an escape, a null where the field is not a feature value, numeric or
// categorical, a number of another form than the field's) is decoded again
// by encoding/json, so what is accepted and every error are encoding/json's.
// FuzzDecodeFast holds decodeFast to that.
func decodeData(d *Decoder, data []byte, p *Prediction) error {
	if decodeFast(d, data, p) {
		return nil
	}
	*p = Prediction{}
	return json.Unmarshal(data, p)
}

// The fields of the prediction record, as bits of the set of fields seen.
const (
	fieldPredictionID = 1 << iota
	fieldModel
	fieldVersion
	fieldAlias
	fieldEntityKey
	fieldFeatures
	fieldPrediction
	fieldProbabilities
	fieldShadow
	fieldEventTime
	fieldLatency
	fieldAges
	fieldCategorical
)

// parser reads one JSON document; every method reports false when the
// input is not of the form it reads, leaving the decision to
// encoding/json.
type parser struct {
	b []byte
	i int
	d *Decoder // nil: nothing interned
}

// decodeFast decodes data into p (which must be zero) and reports whether it
// could; when it reports false, p holds a partial decode to be discarded.
// d, when not nil, interns the model, the alias and the feature
// references.
func decodeFast(d *Decoder, data []byte, p *Prediction) bool {
	ps := parser{b: data, d: d}
	ps.ws()
	if !ps.byte('{') {
		return false
	}
	ps.ws()
	if ps.byte('}') {
		return ps.end()
	}
	var seen int
	for {
		key, ok := ps.key()
		if !ok {
			return false
		}
		ps.ws()
		if !ps.byte(':') {
			return false
		}
		ps.ws()
		f := field(key)
		if f == 0 || seen&f != 0 {
			return false
		}
		seen |= f
		if !ps.value(f, p) {
			return false
		}
		ps.ws()
		if ps.byte('}') {
			return ps.end()
		}
		if !ps.byte(',') {
			return false
		}
		ps.ws()
	}
}

// field is the bit of a key spelled exactly as the struct tag; 0 for any
// other key (encoding/json would match keys case-insensitively, or ignore
// them).
func field(key []byte) int {
	switch string(key) {
	case "prediction_id":
		return fieldPredictionID
	case "model":
		return fieldModel
	case "version":
		return fieldVersion
	case "alias":
		return fieldAlias
	case "entity_key":
		return fieldEntityKey
	case "features":
		return fieldFeatures
	case "prediction":
		return fieldPrediction
	case "probabilities":
		return fieldProbabilities
	case "shadow":
		return fieldShadow
	case "event_time":
		return fieldEventTime
	case "latency_seconds":
		return fieldLatency
	case "feature_ages_seconds":
		return fieldAges
	case "categorical_features":
		return fieldCategorical
	}
	return 0
}

func (ps *parser) value(f int, p *Prediction) bool {
	var ok bool
	switch f {
	case fieldPredictionID:
		p.PredictionID, ok = ps.str()
	case fieldModel:
		p.Model, ok = ps.interned()
	case fieldAlias:
		p.Alias, ok = ps.interned()
	case fieldEntityKey:
		p.EntityKey, ok = ps.str()
	case fieldVersion:
		p.Version, ok = ps.int()
	case fieldPrediction:
		p.Prediction, ok = ps.float()
	case fieldLatency:
		p.LatencySeconds, ok = ps.float()
	case fieldShadow:
		p.Shadow, ok = ps.bool()
	case fieldEventTime:
		start := ps.i
		if _, ok = ps.raw(); ok {
			// The method encoding/json calls, on the same bytes.
			ok = p.EventTime.UnmarshalJSON(ps.b[start:ps.i]) == nil
		}
	case fieldProbabilities:
		p.Probabilities, ok = ps.floats()
	case fieldFeatures:
		ok = ps.features(p)
	case fieldAges:
		p.FeatureAgesSeconds, ok = ps.ages()
	case fieldCategorical:
		ok = ps.categorical(p)
	}
	return ok
}

func (ps *parser) ws() {
	for ps.i < len(ps.b) {
		switch ps.b[ps.i] {
		case ' ', '\t', '\n', '\r':
			ps.i++
		default:
			return
		}
	}
}

// byte consumes c when it is next.
func (ps *parser) byte(c byte) bool {
	if ps.i < len(ps.b) && ps.b[ps.i] == c {
		ps.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (ps *parser) end() bool {
	ps.ws()
	return ps.i == len(ps.b)
}

// raw reads a string without escapes and returns its bytes, quotes
// excluded: exactly what encoding/json decodes it to. A control character,
// an escape or bytes that are not UTF-8 (which encoding/json replaces) are
// left to encoding/json.
func (ps *parser) raw() ([]byte, bool) {
	if !ps.byte('"') {
		return nil, false
	}
	start := ps.i
	ascii := true
	for ps.i < len(ps.b) {
		c := ps.b[ps.i]
		switch {
		case c == '"':
			s := ps.b[start:ps.i]
			ps.i++
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		ps.i++
	}
	return nil, false
}

// key reads an object key of ASCII characters only: encoding/json's
// case-insensitive match of field names folds some non-ASCII letters (the
// Kelvin sign) onto ASCII ones.
func (ps *parser) key() ([]byte, bool) {
	k, ok := ps.raw()
	if !ok {
		return nil, false
	}
	for _, c := range k {
		if c >= utf8.RuneSelf {
			return nil, false
		}
	}
	return k, true
}

func (ps *parser) str() (string, bool) {
	s, ok := ps.raw()
	return string(s), ok
}

func (ps *parser) interned() (string, bool) {
	s, ok := ps.raw()
	return ps.d.intern(s), ok
}

func (ps *parser) bool() (bool, bool) {
	switch {
	case ps.literal("true"):
		return true, true
	case ps.literal("false"):
		return false, true
	}
	return false, false
}

func (ps *parser) literal(s string) bool {
	if len(ps.b)-ps.i >= len(s) && string(ps.b[ps.i:ps.i+len(s)]) == s {
		ps.i += len(s)
		return true
	}
	return false
}

// number reads a number of JSON's grammar and reports whether it is an
// integer (no fraction, no exponent).
func (ps *parser) number() (s []byte, integer bool, ok bool) {
	start := ps.i
	ps.byte('-')
	switch {
	case ps.byte('0'):
	case ps.i < len(ps.b) && ps.b[ps.i] >= '1' && ps.b[ps.i] <= '9':
		ps.digits()
	default:
		return nil, false, false
	}
	integer = true
	if ps.byte('.') {
		integer = false
		if ps.digits() == 0 {
			return nil, false, false
		}
	}
	if ps.byte('e') || ps.byte('E') {
		integer = false
		if !ps.byte('+') {
			ps.byte('-')
		}
		if ps.digits() == 0 {
			return nil, false, false
		}
	}
	return ps.b[start:ps.i], integer, true
}

func (ps *parser) digits() int {
	start := ps.i
	for ps.i < len(ps.b) && ps.b[ps.i] >= '0' && ps.b[ps.i] <= '9' {
		ps.i++
	}
	return ps.i - start
}

// float reads a number as encoding/json does into a float64; one out of
// float64's range is left to encoding/json (an error there).
func (ps *parser) float() (float64, bool) {
	s, _, ok := ps.number()
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(string(s), 64)
	return x, err == nil
}

// int reads an integer as encoding/json does into an int.
func (ps *parser) int() (int, bool) {
	s, integer, ok := ps.number()
	if !ok || !integer {
		return 0, false
	}
	n, err := strconv.ParseInt(string(s), 10, strconv.IntSize)
	return int(n), err == nil
}

// floats reads an array of numbers; [] is an empty slice, as encoding/json
// makes it.
func (ps *parser) floats() ([]float64, bool) {
	if !ps.byte('[') {
		return nil, false
	}
	xs := []float64{}
	ps.ws()
	if ps.byte(']') {
		return xs, true
	}
	for {
		x, ok := ps.float()
		if !ok {
			return nil, false
		}
		xs = append(xs, x)
		ps.ws()
		if ps.byte(']') {
			return xs, true
		}
		if !ps.byte(',') {
			return nil, false
		}
		ps.ws()
	}
}

// object reads an object whose values item reads; each key is read with
// raw, and a key given twice keeps its last value, as in encoding/json.
func (ps *parser) object(item func(key []byte) bool) bool {
	if !ps.byte('{') {
		return false
	}
	ps.ws()
	if ps.byte('}') {
		return true
	}
	for {
		k, ok := ps.raw()
		if !ok {
			return false
		}
		ps.ws()
		if !ps.byte(':') {
			return false
		}
		ps.ws()
		if !item(k) {
			return false
		}
		ps.ws()
		if ps.byte('}') {
			return true
		}
		if !ps.byte(',') {
			return false
		}
		ps.ws()
	}
}

// features reads the features object (numbers or null) into p.Features.
// When the keys come in increasing order, as encoding/json writes a map,
// p.names and p.values are the features in that order, and p.names is the
// slice of the record before when it has the same features.
func (ps *parser) features(p *Prediction) bool {
	var ok bool
	p.Features, p.names, p.values, ok = readNamed(ps, func(d *Decoder) *namedValues[float64] { return &d.numeric }, ps.float)
	return ok
}

// categorical reads the categorical_features object (strings or null) into
// p.CategoricalFeatures, as features reads the numeric ones. A string with
// an escape is left to encoding/json (raw). The values are interned: a
// category repeats from record to record.
func (ps *parser) categorical(p *Prediction) bool {
	var ok bool
	p.CategoricalFeatures, p.catNames, p.catValues, ok = readNamed(ps, func(d *Decoder) *namedValues[string] { return &d.categorical }, ps.interned)
	return ok
}

// readNamed reads an object of values (read reads one) or nulls into a map.
// When its keys come in increasing order it also returns the names and the
// values in that order; the names are the last record's slice when they are
// the same.
func readNamed[T any](ps *parser, of func(*Decoder) *namedValues[T], read func() (T, bool)) (m map[string]*T, sortedNames []string, sortedValues []*T, ok bool) {
	d := ps.d
	if d == nil {
		d = &Decoder{}
	}
	nv := of(d)
	names, vals, sorted := nv.namesBuf[:0], nv.valsBuf[:0], true
	ok = ps.object(func(k []byte) bool {
		v := nullable[T]{null: true}
		if !ps.literal("null") {
			x, ok := read()
			if !ok {
				return false
			}
			v = nullable[T]{v: x}
		}
		// Most records have the features of the one before, in its order.
		var name string
		if i := len(names); i < len(nv.last) && nv.last[i] == string(k) {
			name = nv.last[i]
		} else {
			name = ps.d.intern(k)
		}
		if len(names) > 0 && name <= names[len(names)-1] {
			sorted = false
		}
		names, vals = append(names, name), append(vals, v)
		return true
	})
	nv.namesBuf, nv.valsBuf = names, vals
	if !ok {
		return nil, nil, nil, false
	}
	// One array for the values, one map of the right size.
	xs := make([]T, len(vals))
	ptrs := make([]*T, len(vals))
	m = make(map[string]*T, len(vals))
	for i, v := range vals {
		if !v.null {
			xs[i] = v.v
			ptrs[i] = &xs[i]
		}
		m[names[i]] = ptrs[i]
	}
	if !sorted {
		return m, nil, nil, true
	}
	if !slices.Equal(names, nv.last) {
		nv.last = slices.Clone(names)
	}
	return m, nv.last, ptrs, true
}

// ages reads feature_ages_seconds: numbers only (a null would be a zero
// in encoding/json; it is left to it).
// The ages are of features of the record, usually in their order: each key
// is looked for among the decoder's sorted features first.
func (ps *parser) ages() (map[string]float64, bool) {
	m := make(map[string]float64, 32)
	var names []string
	if ps.d != nil {
		names = ps.d.numeric.last
	}
	j := 0
	ok := ps.object(func(k []byte) bool {
		x, ok := ps.float()
		if !ok {
			return false
		}
		for j < len(names) && names[j] < string(k) {
			j++
		}
		if j < len(names) && names[j] == string(k) {
			m[names[j]] = x
		} else {
			m[ps.d.intern(k)] = x
		}
		return true
	})
	return m, ok
}
