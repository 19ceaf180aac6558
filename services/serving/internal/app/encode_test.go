package app

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
)

func f(x float64) *float64 { return &x }

func s(x string) *string { return &x }

// TestEncodeRecordIsJSONMarshal: the hand-written encoding of a prediction
// record is json.Marshal's, byte for byte, for the records serving makes
// and for the odd ones (escapes, extreme numbers, empty fields), and an
// unencodable record is refused as json.Marshal refuses it.
func TestEncodeRecordIsJSONMarshal(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	cases := map[string]event.PredictionLogged{
		"typical": {PredictionID: "abc123", Model: "fraud", Version: 7, Alias: "canary", EntityKey: "u1",
			Features: map[string]*float64{"v:b": f(1.5), "v:a": nil, "req:x": f(-3)}, Prediction: 0.91, Probabilities: []float64{0.09, 0.91},
			EventTime: at, LatencySeconds: 0.00123, FeatureAgesSeconds: map[string]float64{"v:b": 30.25}},
		"empty":          {Features: map[string]*float64{}, EventTime: at},
		"nil features":   {EventTime: at},
		"shadow":         {Model: "m", Shadow: true, Features: map[string]*float64{"a:b": f(0)}, EventTime: at.In(time.FixedZone("x", 3600))},
		"escapes":        {Model: "m<&>", EntityKey: "quote\"back\\slash\ttab\u2028é\xff", Features: map[string]*float64{"é:x": f(1)}, EventTime: at},
		"extreme floats": {Features: map[string]*float64{"a:a": f(1e-7), "a:b": f(1e21), "a:c": f(-1e-300), "a:d": f(123456789012345678), "a:e": f(5e-324), "a:f": f(math.MaxFloat64), "a:g": f(1e20)}, Prediction: 1e-6, EventTime: at},
		"negative zero":  {Prediction: math.Copysign(0, -1), Features: map[string]*float64{}, EventTime: at},
		"multiclass":     {Probabilities: []float64{0.2, 0.3, 0.5}, Prediction: 2, Features: map[string]*float64{}, EventTime: at},
		"zero time":      {Features: map[string]*float64{}},
		"categorical": {Model: "m", Features: map[string]*float64{"v:n": f(2)},
			CategoricalFeatures: map[string]*string{"v:merchant": s("grocery"), "req:country": nil, "v:esc": s("a\"b\u00e9")}, EventTime: at},
	}
	// A field added to the record must be encoded too: the typical case
	// with every field set fails here until the encoder writes it.
	every := cases["typical"]
	every.Shadow = true
	every.CategoricalFeatures = map[string]*string{"v:merchant": s("travel")}
	rv := reflect.ValueOf(every)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Fatalf("the every-field case leaves %s unset: set it", rv.Type().Field(i).Name)
		}
	}
	cases["every field"] = every
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		rec := event.PredictionLogged{PredictionID: "p", Model: "m", Version: r.IntN(100), EntityKey: "k", Features: map[string]*float64{}, EventTime: at.Add(time.Duration(r.Int64N(1e15))), FeatureAgesSeconds: map[string]float64{}}
		for j := range r.IntN(30) {
			x := math.Ldexp(r.NormFloat64(), r.IntN(160)-80)
			ref := "v" + string(rune('a'+j%26)) + ":f" + string(rune('a'+r.IntN(26)))
			rec.Features[ref] = &x
			rec.FeatureAgesSeconds[ref] = r.Float64() * 1000
		}
		rec.Prediction = r.Float64()
		cases["random"+string(rune('A'+i%26))+string(rune('a'+i/26))] = rec
	}
	for name, rec := range cases {
		want, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeRecord([]byte("prefix"), &rec)
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("%s:\n got %s (%v)\nwant prefix%s", name, got, err, want)
		}
	}
	for name, rec := range map[string]event.PredictionLogged{
		"NaN prediction": {Prediction: math.NaN(), Features: map[string]*float64{}, EventTime: at},
		"Inf feature":    {Features: map[string]*float64{"a:b": f(math.Inf(1))}, EventTime: at},
		"year 10000":     {Features: map[string]*float64{}, EventTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if got, err := encodeRecord([]byte("prefix"), &rec); err == nil || string(got) != "prefix" {
			t.Errorf("%s: %q, %v; want an error as json.Marshal's", name, got, err)
		}
	}
}

func BenchmarkEncodeRecord(b *testing.B) {
	rec := event.PredictionLogged{PredictionID: "abc123def456", Model: "fraud", Version: 7, Alias: "production", EntityKey: "user-00042",
		Features: map[string]*float64{}, FeatureAgesSeconds: map[string]float64{}, Prediction: 0.91, Probabilities: []float64{0.09, 0.91}, EventTime: time.Now(), LatencySeconds: 0.0012}
	for j := range 20 {
		ref := "bench:feature_" + string(rune('a'+j))
		x := float64(j) * 12.345
		rec.Features[ref] = &x
		rec.FeatureAgesSeconds[ref] = float64(j)
	}
	b.Run("encodeRecord", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = encodeRecord(buf[:0], &rec)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(rec)
		}
	})
}
