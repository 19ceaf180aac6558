package api

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func fp(x float64) *float64 { return &x }

// TestEncodePredictIsJSONMarshal: the predict answer's hand-written
// encoding is json.Marshal's, byte for byte, and a NaN is refused as
// json.Marshal refuses it.
func TestEncodePredictIsJSONMarshal(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 123000000, time.UTC)
	cases := map[string]PredictResponse{
		"typical": {Model: "fraud", AsOf: at, FreshestAge: fp(1.5), StalestAge: fp(30.2), Results: []PredictResult{
			{Entity: "u1", PredictionID: "abc", Version: 7, Route: "canary", Prediction: 0.91, Probabilities: []float64{0.09, 0.91}, FreshestAge: fp(1.5), StalestAge: fp(30.2)},
			{Entity: "nobody", PredictionID: "def", Version: 6, Route: "production", Prediction: 1e-7, Missing: []string{"v:a", "v:b"}},
		}},
		"nil results": {Model: "m", AsOf: at},
		"empty":       {Results: []PredictResult{}},
		"escapes":     {Model: "m", AsOf: at, Results: []PredictResult{{Entity: "<\"é\n\u2028>", Missing: []string{"a&b"}}}},
		"floats":      {Results: []PredictResult{{Prediction: 1e21, Probabilities: []float64{5e-324, math.MaxFloat64, math.Copysign(0, -1)}, FreshestAge: fp(0)}}},
		"zone":        {AsOf: at.In(time.FixedZone("x", -7200))},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 100 {
		resp := PredictResponse{Model: "m", AsOf: at.Add(time.Duration(r.Int64N(1e15)))}
		for range 1 + r.IntN(5) {
			resp.Results = append(resp.Results, PredictResult{Entity: "e", PredictionID: "p", Version: r.IntN(9), Route: "production",
				Prediction: math.Ldexp(r.Float64(), r.IntN(200)-100), FreshestAge: fp(r.Float64() * 100)})
		}
		cases[string(rune('A'+i%26))+string(rune('a'+i/26))] = resp
	}
	for name, resp := range cases {
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := encodePredict(&resp); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s (%v)\nwant %s", name, got, err, want)
		}
	}
	nan := PredictResponse{Results: []PredictResult{{Prediction: math.NaN()}}}
	if got, err := encodePredict(&nan); err == nil {
		t.Errorf("NaN encoded as %s", got)
	}
}
