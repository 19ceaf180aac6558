package api

import (
	"encoding/json"

	"github.com/tributary-ml/tributary/services/serving/internal/jsonenc"
)

// encodePredict encodes a predict answer exactly as json.Marshal does,
// without reflection; what it does not write itself byte for byte (a
// string needing escapes, a NaN) goes to json.Marshal.
func encodePredict(resp *PredictResponse) ([]byte, error) {
	w := jsonenc.Writer{B: make([]byte, 0, 256+256*len(resp.Results)), OK: true}
	w.Raw(`{"model":`)
	w.String(resp.Model)
	w.Raw(`,"as_of":`)
	w.Time(resp.AsOf)
	w.Raw(`,"results":`)
	if resp.Results == nil {
		w.Raw("null")
	} else {
		w.Raw("[")
		for i := range resp.Results {
			if i > 0 {
				w.Raw(",")
			}
			r := &resp.Results[i]
			w.Raw(`{"entity":`)
			w.String(r.Entity)
			w.Raw(`,"prediction_id":`)
			w.String(r.PredictionID)
			w.Raw(`,"version":`)
			w.Int(r.Version)
			w.Raw(`,"route":`)
			w.String(r.Route)
			w.Raw(`,"prediction":`)
			w.Float(r.Prediction)
			if len(r.Probabilities) > 0 {
				w.Raw(`,"probabilities":`)
				w.Floats(r.Probabilities)
			}
			w.Raw(`,"freshest_feature_age_seconds":`)
			w.FloatPtr(r.FreshestAge)
			w.Raw(`,"stalest_feature_age_seconds":`)
			w.FloatPtr(r.StalestAge)
			if len(r.Missing) > 0 {
				w.Raw(`,"missing_features":[`)
				for j, m := range r.Missing {
					if j > 0 {
						w.Raw(",")
					}
					w.String(m)
				}
				w.Raw("]")
			}
			w.Raw("}")
		}
		w.Raw("]")
	}
	w.Raw(`,"freshest_feature_age_seconds":`)
	w.FloatPtr(resp.FreshestAge)
	w.Raw(`,"stalest_feature_age_seconds":`)
	w.FloatPtr(resp.StalestAge)
	w.Raw("}")
	if w.OK {
		return w.B, nil
	}
	return json.Marshal(resp)
}
