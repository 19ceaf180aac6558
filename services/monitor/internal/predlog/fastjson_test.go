package predlog

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
)

// serving is a record as serving writes it: encoding/json's output of
// event.PredictionLogged, with features numeric features (and one missing)
// and categorical ones (and one missing when categorical > 0; none at all,
// as serving omits the field, when 0).
func serving(t testing.TB, features, categorical int) []byte {
	t.Helper()
	f := map[string]*float64{"v:missing": nil}
	ages := map[string]float64{}
	for i := range features {
		x := float64(i)/7 - 1
		f[fmt.Sprintf("view:feature_%02d", i)] = &x
		ages[fmt.Sprintf("view:feature_%02d", i)] = float64(i) * 1.5
	}
	var c map[string]*string
	if categorical > 0 {
		c = map[string]*string{"v:missing_category": nil}
		for i := range categorical {
			s := []string{"grocery", "travel", "DE", "web", "café"}[i%5]
			c[fmt.Sprintf("pay:category_%02d", i)] = &s
		}
	}
	b, err := json.Marshal(event.PredictionLogged{
		PredictionID: "0193a1c2-7f4e-7b5a-9c1d-2e3f4a5b6c7d", Model: "churn", Version: 12, Alias: "production",
		EntityKey: "customer-42", Features: f, CategoricalFeatures: c, Prediction: 0.8125, Probabilities: []float64{0.1875, 0.8125},
		Shadow: true, EventTime: time.Date(2026, 12, 1, 9, 30, 15, 123456789, time.UTC), LatencySeconds: 0.0042,
		FeatureAgesSeconds: ages,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeFast: what serving writes is read without encoding/json, and
// every form decodeFast does not read is left to it, giving encoding/json's
// result or error.
func TestDecodeFast(t *testing.T) {
	base := string(serving(t, 3, 3))
	for _, tc := range []struct {
		name string
		data string
		fast bool
	}{
		{"serving", base, true},
		{"white space", strings.ReplaceAll(strings.ReplaceAll(base, `,"`, " ,\n\t\""), `":`, "\"\r: "), true},
		{"empty object", `{}`, true},
		{"empty features and probabilities", `{"features":{},"probabilities":[]}`, true},
		{"numbers", `{"prediction":-0,"latency_seconds":1E-3,"version":-7,"features":{"a":1.5e+2,"b":0.25,"c":-12}}`, true},
		{"utf-8 strings", `{"model":"mödel","entity_key":"日本","features":{"vü:ß":1}}`, true},
		{"feature twice", `{"features":{"a":1,"a":null}}`, true},
		{"numeric features only", string(serving(t, 3, 0)), true},
		{"categorical features", `{"categorical_features":{"p:country":"DE","p:merchant":null,"p:zip":"10115"}}`, true},
		{"categorical features unsorted", `{"categorical_features":{"p:zip":"10115","p:country":"DE","p:merchant":null}}`, true},
		{"empty categorical features", `{"categorical_features":{}}`, true},
		{"categorical empty string and utf-8", `{"categorical_features":{"p:a":"","p:b":"café","p:ü":"日本"}}`, true},
		{"categorical feature twice", `{"categorical_features":{"a":"x","a":null}}`, true},
		{"categorical feature null then string", `{"categorical_features":{"a":null,"a":"y"}}`, true},
		{"same key numeric and categorical", `{"features":{"a":1},"categorical_features":{"a":"x"}}`, true},
		{"null categorical features", `{"categorical_features":null}`, false},
		{"categorical features twice", `{"categorical_features":{"a":"x"},"categorical_features":{"b":"y"}}`, false},
		{"escaped categorical value", `{"categorical_features":{"p:merchant":"caf\u00e9 \"chez\" nous"}}`, false},
		{"escaped categorical key", `{"categorical_features":{"p:\u006derchant":"x"}}`, false},
		{"categorical value with a control character", "{\"categorical_features\":{\"a\":\"x\ty\"}}", false},
		{"categorical value invalid utf-8", "{\"categorical_features\":{\"a\":\"x\xffy\"}}", false},
		{"numeric categorical value", `{"categorical_features":{"a":1}}`, false},
		{"boolean categorical value", `{"categorical_features":{"a":true}}`, false},
		{"categorical features not an object", `{"categorical_features":["a"]}`, false},
		{"categorical key in another case", `{"Categorical_Features":{"a":"x"}}`, false},
		{"unknown key", `{"model":"m","extra":1}`, false},
		{"key in another case", `{"Model":"m"}`, false},
		{"kelvin sign", "{\"\u212aey\":1}", false},
		{"field twice", `{"model":"a","model":"b"}`, false},
		{"features twice", `{"features":{"a":1},"features":{"b":2}}`, false},
		{"escaped string", `{"model":"a\"b","entity_key":"\u00e9"}`, false},
		{"escaped key", `{"features":{"a\u0041":1}}`, false},
		{"invalid utf-8", "{\"model\":\"a\xffb\"}", false},
		{"control character", "{\"model\":\"a\tb\"}", false},
		{"null string", `{"model":null}`, false},
		{"null features", `{"features":null}`, false},
		{"null age", `{"feature_ages_seconds":{"a":null}}`, false},
		{"null probability", `{"probabilities":[0.5,null]}`, false},
		{"version with a fraction", `{"version":1.0}`, false},
		{"version with an exponent", `{"version":1e2}`, false},
		{"version too large for int", `{"version":99999999999999999999}`, false},
		{"float out of range", `{"prediction":1e400}`, false},
		{"leading zero", `{"prediction":01}`, false},
		{"plus sign", `{"prediction":+1}`, false},
		{"bare fraction", `{"prediction":.5}`, false},
		{"trailing dot", `{"prediction":1.}`, false},
		{"string feature", `{"features":{"a":"1"}}`, false},
		{"bad time", `{"event_time":"yesterday"}`, false},
		{"time not a string", `{"event_time":1}`, false},
		{"trailing garbage", `{"model":"m"}x`, false},
		{"trailing comma", `{"model":"m",}`, false},
		{"truncated", base[:len(base)-1], false},
		{"not an object", `[1]`, false},
		{"null", `null`, false},
		{"empty", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range []*Decoder{nil, NewDecoder()} {
				var fast Prediction
				if got := decodeFast(d, []byte(tc.data), &fast); got != tc.fast {
					t.Fatalf("decodeFast read it: %v, want %v", got, tc.fast)
				}
				var got, want Prediction
				gotErr := decodeData(d, []byte(tc.data), &got)
				wantErr := json.Unmarshal([]byte(tc.data), &want)
				if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Fatalf("error %v, encoding/json's %v", gotErr, wantErr)
				}
				checkSame(t, tc.data, got, want)
			}
		})
	}
}

// FuzzDecodeFast is decodeFast against encoding/json, which it replaces:
// whenever decodeFast reads a document, encoding/json reads it too, to the
// same prediction.
func FuzzDecodeFast(f *testing.F) {
	f.Add(serving(f, 3, 3))
	f.Add(serving(f, 0, 0))
	f.Add(serving(f, 2, 0))
	f.Add([]byte(`{"categorical_features":{"b":"x","a":null,"a":"y"},"features":{"a":1}}`))
	f.Add([]byte(`{"categorical_features":{"p:m":"caf\u00e9","p:n":""}}`))
	f.Add([]byte(`{"prediction_id":"x","model":"m","version":1,"entity_key":"e","features":{},"prediction":1,"event_time":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"features":{"a":1,"a":null},"probabilities":[],"shadow":false,"feature_ages_seconds":{"a":0}}`))
	f.Add([]byte(`{"version":-0,"prediction":-0.0e-0,"latency_seconds":1E+2}`))
	f.Add([]byte(`{"model":"mödel","features":{"vü:ß":1}}`))
	f.Add([]byte(`{"event_time":"2026-01-01T00:00:00.5+01:00"}`))
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast Prediction
		if !decodeFast(d, data, &fast) {
			return
		}
		var want Prediction
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("decodeFast read %q, encoding/json refuses it: %v", data, err)
		}
		checkSame(t, string(data), fast, want)
	})
}

// checkSame fails unless got (from decodeData) is want (from
// encoding/json), and got's sorted features, when it has them, are its
// features.
func checkSame(t *testing.T, data string, got, want Prediction) {
	t.Helper()
	if got.names != nil {
		if len(got.names) != len(got.Features) || len(got.values) != len(got.names) || !slices.IsSorted(got.names) {
			t.Fatalf("%q: sorted features %v %v of %v", data, got.names, got.values, got.Features)
		}
		for i, n := range got.names {
			if v, ok := got.Features[n]; !ok || v != got.values[i] {
				t.Fatalf("%q: sorted feature %s is not the map's", data, n)
			}
		}
	}
	if got.catNames != nil {
		if len(got.catNames) != len(got.CategoricalFeatures) || len(got.catValues) != len(got.catNames) || !slices.IsSorted(got.catNames) {
			t.Fatalf("%q: sorted categorical features %v %v of %v", data, got.catNames, got.catValues, got.CategoricalFeatures)
		}
		for i, n := range got.catNames {
			if v, ok := got.CategoricalFeatures[n]; !ok || v != got.catValues[i] {
				t.Fatalf("%q: sorted categorical feature %s is not the map's", data, n)
			}
		}
	}
	// The row has the categorical features of the map, sorted, by either
	// path of NewRow.
	row := NewRow(got, &kgo.Record{})
	if len(row.CategoricalNames) != len(want.CategoricalFeatures) || len(row.CategoricalValues) != len(row.CategoricalNames) || !slices.IsSorted(row.CategoricalNames) {
		t.Fatalf("%q: row categorical features %v %v of %v", data, row.CategoricalNames, row.CategoricalValues, want.CategoricalFeatures)
	}
	for i, n := range row.CategoricalNames {
		w, ok := want.CategoricalFeatures[n]
		if v := row.CategoricalValues[i]; !ok || (v == nil) != (w == nil) || v != nil && *v != *w {
			t.Fatalf("%q: row categorical feature %s = %v, encoding/json %v", data, n, v, w)
		}
	}
	got.names, got.values, got.catNames, got.catValues = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ndecoded       %+v\nencoding/json %+v", data, got, want)
	}
}

// BenchmarkDecodeData is the data of a 20-feature record, as serving writes
// it, read by decodeData and by encoding/json: with numeric features only,
// and with 4 categorical ones besides (one missing), which must stay on the
// fast path.
func BenchmarkDecodeData(b *testing.B) {
	for _, tc := range []struct {
		name        string
		categorical int
	}{{"numeric", 0}, {"categorical", 3}} {
		data := serving(b, 20, tc.categorical)
		d := NewDecoder()
		if !decodeFast(d, data, &Prediction{}) {
			b.Fatalf("%s: the record is not on the fast path", tc.name)
		}
		b.Run(tc.name+"/decodeData", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var p Prediction
				if err := decodeData(d, data, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var p Prediction
				if err := json.Unmarshal(data, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestEnvelopeShapes: a Decoder remembers the envelope libs/event accepted
// and reads the next record of that shape without it; a record whose id,
// time or trace context is of another form, or whose headers differ, is
// not of a known shape; a refused envelope is not remembered.
func TestEnvelopeShapes(t *testing.T) {
	data := serving(t, 2, 2)
	rec := func(id, at, parent, typ string) *kgo.Record {
		return &kgo.Record{Value: data, Headers: []kgo.RecordHeader{
			{Key: "ce_id", Value: []byte(id)}, {Key: "ce_source", Value: []byte("tributary/serving")},
			{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_time", Value: []byte(at)},
			{Key: "ce_traceparent", Value: []byte(parent)}, {Key: "ce_type", Value: []byte(typ)},
			{Key: "content-type", Value: []byte("application/json")},
		}}
	}
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	d := NewDecoder()
	if _, err := d.Decode(rec("a", "2026-12-01T09:00:00.123Z", parent, event.TypePredictionLogged)); err != nil {
		t.Fatal(err)
	}
	if len(d.shapes) != 1 {
		t.Fatalf("%d shapes after one record", len(d.shapes))
	}
	for _, tc := range []struct {
		name  string
		rec   *kgo.Record
		known bool
	}{
		{"other id, time and trace", rec("b", "2026-12-01T09:00:01Z", "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-00", event.TypePredictionLogged), true},
		{"id with a space", rec("b c", "2026-12-01T09:00:01Z", parent, event.TypePredictionLogged), false},
		{"empty id", rec("", "2026-12-01T09:00:01Z", parent, event.TypePredictionLogged), false},
		{"time with an offset", rec("b", "2026-12-01T10:00:01+01:00", parent, event.TypePredictionLogged), false},
		{"invalid date", rec("b", "2026-02-30T10:00:01Z", parent, event.TypePredictionLogged), false},
		{"other type", rec("b", "2026-12-01T09:00:01Z", parent, event.TypeLabelRecorded), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, ok := d.shape(tc.rec)
			_, known := d.shapes[string(key)]
			if ok && known != tc.known || !ok && tc.known {
				t.Fatalf("known shape: %v, want %v", ok && known, tc.known)
			}
			got, gotErr := d.Decode(tc.rec)
			want, wantErr := Decode(tc.rec)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
				t.Fatalf("decoder %v %+v\nlibs/event %v %+v", gotErr, got, wantErr, want)
			}
		})
	}
	before := len(d.shapes)
	bad := rec("b", "2026-12-01T09:00:01Z", parent, event.TypePredictionLogged)
	bad.Headers[2].Value = []byte("0.3")
	if _, err := d.Decode(bad); err == nil {
		t.Fatal("spec version 0.3 accepted")
	}
	if len(d.shapes) != before {
		t.Fatal("a refused envelope was remembered")
	}
}
