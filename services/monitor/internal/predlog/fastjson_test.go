package predlog

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
)

// serving is a record as serving writes it: encoding/json's output of
// event.PredictionLogged.
func serving(t testing.TB, features int) []byte {
	t.Helper()
	f := map[string]*float64{"v:missing": nil}
	ages := map[string]float64{}
	for i := range features {
		x := float64(i)/7 - 1
		f[fmt.Sprintf("view:feature_%02d", i)] = &x
		ages[fmt.Sprintf("view:feature_%02d", i)] = float64(i) * 1.5
	}
	b, err := json.Marshal(event.PredictionLogged{
		PredictionID: "0193a1c2-7f4e-7b5a-9c1d-2e3f4a5b6c7d", Model: "churn", Version: 12, Alias: "production",
		EntityKey: "customer-42", Features: f, Prediction: 0.8125, Probabilities: []float64{0.1875, 0.8125},
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
	base := string(serving(t, 3))
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
	f.Add(serving(f, 3))
	f.Add(serving(f, 0))
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
	got.names, got.values = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ndecoded       %+v\nencoding/json %+v", data, got, want)
	}
}

// BenchmarkDecodeData is the data of a 20-feature record, as serving writes
// it, read by decodeData and by encoding/json.
func BenchmarkDecodeData(b *testing.B) {
	data := serving(b, 20)
	d := NewDecoder()
	b.Run("decodeData", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p Prediction
			if err := decodeData(d, data, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p Prediction
			if err := json.Unmarshal(data, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
