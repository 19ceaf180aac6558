package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/serving/internal/models"
	"github.com/tributary-ml/tributary/services/serving/internal/online"
)

// PredictRequest is the body of POST /v1/predict/{model}.
type PredictRequest struct {
	// Entities are the entities to predict for: a key, or an object with
	// the key and request-time features.
	Entities []PredictEntity `json:"entities"`
}

// PredictEntity is one entity: `"u1"` or `{"key": "u1", "features":
// {"request:amount": 12.5, "request:merchant": "grocery"}}`: numbers in
// Features, strings (the categories of categorical features) in Text.
type PredictEntity struct {
	Key      string             `json:"key"`
	Features map[string]float64 `json:"features,omitempty"`
	Text     map[string]string  `json:"-"`
}

// UnmarshalJSON takes a string or an object.
func (e *PredictEntity) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.Key)
	}
	// Numbers only, the common case, decode as they always did; a string
	// value (a category) takes the slower way.
	type numbers PredictEntity
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode((*numbers)(e))
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Value != "string" {
		return err
	}
	*e = PredictEntity{}
	var plain struct {
		Key      string                  `json:"key"`
		Features map[string]requestValue `json:"features,omitempty"`
	}
	dec = json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&plain); err != nil {
		return err
	}
	e.Key = plain.Key
	for ref, v := range plain.Features {
		if v.text != nil {
			if e.Text == nil {
				e.Text = map[string]string{}
			}
			e.Text[ref] = *v.text
			continue
		}
		if e.Features == nil {
			e.Features = make(map[string]float64, len(plain.Features))
		}
		e.Features[ref] = v.num
	}
	return nil
}

// requestValue is a request-time feature value: a number or a string.
type requestValue struct {
	num  float64
	text *string
}

func (v *requestValue) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v.text = &s
		return nil
	}
	return json.Unmarshal(b, &v.num)
}

// PredictResult is one entity's prediction.
type PredictResult struct {
	Entity       string `json:"entity"`
	PredictionID string `json:"prediction_id"`
	Version      int    `json:"version"`
	// Route is the alias that answered (production, canary, an A/B arm),
	// empty for a version asked for by number.
	Route         string    `json:"route"`
	Prediction    float64   `json:"prediction"`
	Probabilities []float64 `json:"probabilities,omitempty"`
	// The ages (seconds at as_of) of the freshest and the stalest online
	// feature value used; null when none was.
	FreshestAge *float64 `json:"freshest_feature_age_seconds"`
	StalestAge  *float64 `json:"stalest_feature_age_seconds"`
	// Missing are the features the entity had no value for (the model's
	// missing-value rule applied).
	Missing []string `json:"missing_features,omitempty"`
}

// PredictResponse is the answer of POST /v1/predict/{model}.
type PredictResponse struct {
	Model   string          `json:"model"`
	AsOf    time.Time       `json:"as_of"`
	Results []PredictResult `json:"results"`
	// Over the whole request.
	FreshestAge *float64 `json:"freshest_feature_age_seconds"`
	StalestAge  *float64 `json:"stalest_feature_age_seconds"`
}

// DecodePredict reads and checks a predict body.
func DecodePredict(body io.Reader) (PredictRequest, error) {
	var req PredictRequest
	b, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return req, errorf(http.StatusRequestEntityTooLarge, reason.RequestTooLarge, "body larger than %d bytes", mbe.Limit)
		}
		return req, errorf(http.StatusBadRequest, reason.MalformedInput, "body: %v", err)
	}
	if keys, ok := decodeKeys(b); ok {
		req.Entities = make([]PredictEntity, len(keys))
		for i, k := range keys {
			req.Entities[i].Key = k
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return req, errorf(http.StatusBadRequest, reason.MalformedInput, "body: %v", err)
		}
		if dec.More() {
			return req, errorf(http.StatusBadRequest, reason.MalformedInput, "body: data after the JSON object")
		}
	}
	if len(req.Entities) == 0 {
		return req, errorf(http.StatusBadRequest, reason.MalformedInput, "entities: at least one entity is required")
	}
	if len(req.Entities) > MaxEntities {
		return req, errorf(http.StatusBadRequest, reason.MalformedInput, "entities: %d, at most %d", len(req.Entities), MaxEntities)
	}
	for i, e := range req.Entities {
		if e.Key == "" || len(e.Key) > 1024 {
			return req, errorf(http.StatusBadRequest, reason.MalformedInput, "entities[%d].key: 1 to 1024 bytes required", i)
		}
		for ref, x := range e.Features {
			if math.IsInf(x, 0) || math.IsNaN(x) {
				return req, errorf(http.StatusBadRequest, reason.MalformedInput, "entities[%d].features[%s]: not a finite number", i, ref)
			}
		}
		for ref, s := range e.Text {
			if len(s) > maxCategoryBytes {
				return req, errorf(http.StatusBadRequest, reason.MalformedInput, "entities[%d].features[%s]: a string of %d bytes, at most %d", i, ref, len(s), maxCategoryBytes)
			}
		}
	}
	return req, nil
}

// decodeKeys reads the commonest body, {"entities": ["k1", "k2", ...]},
// whose keys are printable ASCII without escapes, without reflection
// (encoding/json took a twentieth of a prediction's CPU); ok is false for
// any other body, which encoding/json then reads. What it accepts,
// encoding/json reads the same way (FuzzDecodePredict checks it).
func decodeKeys(b []byte) (keys []string, ok bool) {
	i := 0
	ws := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	lit := func(s string) bool {
		ws()
		if len(b)-i < len(s) || string(b[i:i+len(s)]) != s {
			return false
		}
		i += len(s)
		return true
	}
	if !lit("{") || !lit(`"entities"`) || !lit(":") || !lit("[") {
		return nil, false
	}
	if lit("]") {
		return []string{}, lit("}") && trailing(b[i:])
	}
	for {
		ws()
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if c := b[j]; c < 0x20 || c > 0x7e || c == '\\' {
				return nil, false
			}
			j++
		}
		if j >= len(b) {
			return nil, false
		}
		keys = append(keys, string(b[i+1:j]))
		i = j + 1
		if lit("]") {
			return keys, lit("}") && trailing(b[i:])
		}
		if !lit(",") {
			return nil, false
		}
	}
}

// trailing is true when b holds only JSON whitespace.
func trailing(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// maxCategoryBytes bounds a categorical feature's string in a request.
const maxCategoryBytes = 1024

// group is the entities of a request that one model version answers.
type group struct {
	model *models.Loaded
	route string
	idx   []int // indexes into the request's entities
}

func (a *API) predict(w http.ResponseWriter, r *http.Request) {
	start := a.now()
	defer func() { a.latency.WithLabelValues("predict").Observe(time.Since(start).Seconds()) }()
	name := r.PathValue("model")
	snap := a.snapshot()
	m, err := lookup(snap, name)
	if err != nil {
		a.predictions.WithLabelValues("predict", "", string(err.(*apiError).id)).Inc()
		writeError(w, err)
		return
	}
	if a.fetch == nil {
		writeError(w, errorf(http.StatusServiceUnavailable, reason.OnlineStoreDisabled, "this serving runs without the online store: send features with POST /v2/models/%s/infer", name))
		return
	}
	req, err := DecodePredict(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		a.predictions.WithLabelValues("predict", "", string(err.(*apiError).id)).Inc()
		writeError(w, err)
		return
	}
	header, armList := r.Header.Get(HeaderRoute), arms(r)
	var groups []*group
	for i, e := range req.Entities {
		l, route, err := choose(m, e.Key, header, armList)
		if err != nil {
			a.predictions.WithLabelValues("predict", "", string(err.(*apiError).id)).Inc() // not the header: it is the caller's text
			writeError(w, err)
			return
		}
		var g *group
		for _, gg := range groups {
			if gg.model == l && gg.route == route {
				g = gg
			}
		}
		if g == nil {
			g = &group{model: l, route: route}
			groups = append(groups, g)
		}
		g.idx = append(g.idx, i)
	}
	asOf := start.UnixMilli()
	resp := PredictResponse{Model: name, AsOf: time.UnixMilli(asOf).UTC(), Results: make([]PredictResult, len(req.Entities))}
	var logs []event.PredictionLogged
	for _, g := range groups {
		ents := make([]online.Entity, len(g.idx))
		for k, i := range g.idx {
			ents[k] = online.Entity{Key: req.Entities[i].Key, Request: req.Entities[i].Features, Text: req.Entities[i].Text}
		}
		rows, err := a.fetch.Fetch(r.Context(), g.model.Features, ents, asOf)
		if err == nil {
			rows, err = online.Encode(g.model.Features, rows, entityKeys(ents), g.model)
		}
		if err != nil {
			err = a.fetchError(err)
			a.predictions.WithLabelValues("predict", routeLabel(g.route, g.model), string(err.(*apiError).id)).Inc()
			writeError(w, err)
			return
		}
		out := make([]float64, g.model.Outputs)
		for k, i := range g.idx {
			row := rows[k]
			g.model.Predict(row.Values, out)
			p, probs := outputs(g.model, out)
			res := PredictResult{Entity: ents[k].Key, PredictionID: predictionID(), Version: g.model.Version, Route: g.route,
				Prediction: p, Probabilities: probs, FreshestAge: age(row.Freshest), StalestAge: age(row.Stalest)}
			for j, miss := range row.Missing {
				if miss {
					res.Missing = append(res.Missing, g.model.Features[j])
				}
			}
			resp.Results[i] = res
			resp.FreshestAge = minAge(resp.FreshestAge, res.FreshestAge)
			resp.StalestAge = maxAge(resp.StalestAge, res.StalestAge)
			logs = append(logs, record(g.model, g.route, ents[k].Key, res, row, start, false))
		}
		a.predictions.WithLabelValues("predict", routeLabel(g.route, g.model), "ok").Add(float64(len(g.idx)))
	}
	writeAnswer(w, &resp)
	took := time.Since(start).Seconds()
	for i := range logs {
		logs[i].LatencySeconds = took
		a.log.Log(logs[i])
	}
	if sh, ok := m.Routes[AliasShadow]; ok && header == "" {
		a.shadowPredict(sh.Model, req, asOf)
	}
}

func (a *API) fetchError(err error) error {
	var mf *online.MissingFeatureError
	var uv *online.UnsupportedValueError
	switch {
	case errors.As(err, &mf):
		return errorf(http.StatusUnprocessableEntity, reason.MissingFeature, "%v", err)
	case errors.As(err, &uv):
		return errorf(http.StatusUnprocessableEntity, reason.UnsupportedFeature, "%v", err)
	case errors.Is(err, tiles.ErrCorrupt):
		a.logger.Error("corrupt online state", "error", err)
		return errorf(http.StatusInternalServerError, reason.CorruptState, "%v", err)
	default:
		a.logger.Warn("online read failed", "error", err)
		return errorf(http.StatusServiceUnavailable, reason.Unavailable, "online store: %v", err)
	}
}

// shadowPredict runs a copy of the request on the shadow version after the
// answer was written; its results are logged, never returned. When
// MaxShadow copies are running the copy is dropped.
func (a *API) shadowPredict(l *models.Loaded, req PredictRequest, asOf int64) {
	select {
	case a.shadowCh <- struct{}{}:
	default:
		a.shadows.WithLabelValues("dropped").Inc()
		return
	}
	a.shadowWG.Add(1)
	go func() {
		defer a.shadowWG.Done()
		defer func() { <-a.shadowCh }()
		start := a.now()
		ents := make([]online.Entity, len(req.Entities))
		for i, e := range req.Entities {
			ents[i] = online.Entity{Key: e.Key, Request: e.Features, Text: e.Text}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rows, err := a.fetch.Fetch(ctx, l.Features, ents, asOf)
		if err == nil {
			rows, err = online.Encode(l.Features, rows, entityKeys(ents), l)
		}
		if err != nil {
			a.shadows.WithLabelValues("failed").Inc()
			a.logger.Warn("shadow prediction failed", "model", l.Model, "version", l.Version, "error", err)
			return
		}
		out := make([]float64, l.Outputs)
		for i, row := range rows {
			l.Predict(row.Values, out)
			p, probs := outputs(l, out)
			res := PredictResult{PredictionID: predictionID(), Prediction: p, Probabilities: probs}
			rec := record(l, AliasShadow, ents[i].Key, res, row, start, true)
			rec.LatencySeconds = time.Since(start).Seconds()
			a.log.Log(rec)
		}
		a.shadows.WithLabelValues("ok").Inc()
	}()
}

func entityKeys(ents []online.Entity) []string {
	keys := make([]string, len(ents))
	for i, e := range ents {
		keys[i] = e.Key
	}
	return keys
}

func record(l *models.Loaded, route, key string, res PredictResult, row online.Row, at time.Time, shadow bool) event.PredictionLogged {
	feats := make(map[string]*float64, len(l.Features))
	vals := make([]float64, len(l.Features)) // one allocation for the values the map points at
	var ages map[string]float64
	var cats map[string]*string
	for j, ref := range l.Features {
		if l.Categorical(j) {
			// The category as received, for the monitor's drift.
			if cats == nil {
				cats = map[string]*string{}
			}
			cats[ref] = nil
			if s, ok := row.TextOf(j); ok {
				cats[ref] = &s
			}
			if row.Ages != nil && row.Ages[j] >= 0 {
				if ages == nil {
					ages = map[string]float64{}
				}
				ages[ref] = row.Ages[j]
			}
			continue
		}
		if row.Missing != nil && row.Missing[j] {
			feats[ref] = nil
			continue
		}
		vals[j] = row.Values[j]
		feats[ref] = &vals[j]
		if row.Ages != nil && row.Ages[j] >= 0 {
			if ages == nil {
				ages = map[string]float64{}
			}
			ages[ref] = row.Ages[j]
		}
	}
	var probs []float64
	if l.Task == "multiclass" || l.Task == "binary" {
		probs = res.Probabilities
	}
	return event.PredictionLogged{
		PredictionID: res.PredictionID, Model: l.Model, Version: l.Version, Alias: route, EntityKey: key,
		Features: feats, CategoricalFeatures: cats, Prediction: res.Prediction, Probabilities: probs, Shadow: shadow, EventTime: at.UTC(),
		FeatureAgesSeconds: ages,
	}
}

func age(x float64) *float64 {
	if x < 0 {
		return nil
	}
	return &x
}

func minAge(a, b *float64) *float64 {
	if a == nil || (b != nil && *b < *a) {
		return b
	}
	return a
}

func maxAge(a, b *float64) *float64 {
	if a == nil || (b != nil && *b > *a) {
		return b
	}
	return a
}
