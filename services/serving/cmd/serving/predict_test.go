package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/learn/modelfile"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/tiles"
)

const viewSpec = `
entities: [{name: user}]
sources:
  - {name: s, stream: s, entity_key: /user_id, fields: {x: number, k: string}}
views:
  - name: VIEW
    entity: user
    source: s
    ttl: 8d
    lateness: 2h
    features:
      - {name: c, agg: count, windows: [1h]}
      - {name: sum, agg: sum, field: x, windows: [1h]}
      - {name: cb, agg: count, windows: [1h], filter: {field: k, op: eq, value: b}}
      - {name: lk, agg: latest, field: k}
`

type predictAnswer struct {
	Model   string `json:"model"`
	Results []struct {
		Entity        string    `json:"entity"`
		Version       int       `json:"version"`
		Route         string    `json:"route"`
		Prediction    float64   `json:"prediction"`
		Probabilities []float64 `json:"probabilities"`
		Freshest      *float64  `json:"freshest_feature_age_seconds"`
		Stalest       *float64  `json:"stalest_feature_age_seconds"`
		Missing       []string  `json:"missing_features"`
	} `json:"results"`
	Freshest *float64 `json:"freshest_feature_age_seconds"`
	Stalest  *float64 `json:"stalest_feature_age_seconds"`
	Error    string   `json:"error"`
	Reason   string   `json:"reason"`
}

// onlineView applies a fresh view to the stack's feature bucket and writes
// events of entity u1 (x = 4 at now-10s, x = 6 at now-30s) to the real
// Redis with libs/tiles.
func onlineView(t *testing.T, s *stack) (featurespec.View, time.Time) {
	t.Helper()
	views, err := featurespec.Parse([]byte(strings.ReplaceAll(viewSpec, "VIEW", "pv"+randomID())))
	if err != nil {
		t.Fatal(err)
	}
	v := views[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := s.JS.KeyValue(ctx, natsx.BucketFeatures)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := featurespec.Apply(ctx, kv, views, time.Now()); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	now := time.Now()
	p := tiles.Compile(v)
	st := tiles.NewStore(rdb, "")
	evs := []tiles.Event{
		{Time: now.Add(-30 * time.Second).UnixMilli(), Seq: tiles.Seq{Partition: 0, Offset: 1}, Fields: map[string]any{"x": 6.0, "k": "b"}},
		{Time: now.Add(-10 * time.Second).UnixMilli(), Seq: tiles.Seq{Partition: 0, Offset: 2}, Fields: map[string]any{"x": 4.0, "k": "a"}},
	}
	if err := st.Apply(ctx, []*tiles.Update{{Plan: p, Entity: "u1", Events: evs}}, now.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), st.Key(p, "u1")) })
	return v, now
}

// TestPredictOnlineFeatures predicts for entity keys: features come from
// Redis (read with libs/tiles) and from the request, unknown entities take
// the model's missing-value rule, and the feature ages are reported.
func TestPredictOnlineFeatures(t *testing.T) {
	s := startStack(t)
	v, written := onlineView(t, s)
	name := "pred-" + randomID()
	refs := []string{v.Name + ":sum_1h", v.Name + ":cb_1h", "req:amount"}
	art := ridgeModel(t, []string{"sum_1h", "cb_1h", "amount"}, 100)
	// No feature definitions: the registry wants one for every view of the
	// lineage, and the request-time "view" req has none.
	ver := s.register(t, name, "tributary", refs, nil, art)
	s.move(t, name, "production", ver.Version, nil)
	p := startServing(t, s)
	servedVersion(t, p, name, "production", ver.Version)

	code, body, _ := postJSON(t, p.URL+"/v1/predict/"+name, map[string]any{"entities": []any{
		map[string]any{"key": "u1", "features": map[string]float64{"req:amount": 5}},
		map[string]any{"key": "nobody", "features": map[string]float64{"req:amount": 1}},
	}})
	var a predictAnswer
	if err := json.Unmarshal(body, &a); err != nil || code != 200 || len(a.Results) != 2 {
		t.Fatalf("%d %s", code, body)
	}
	took := time.Since(written).Seconds()
	r := a.Results[0]
	if r.Entity != "u1" || r.Route != "production" || r.Version != ver.Version || math.Abs(r.Prediction-(100+10+1+5)) > 1e-6 || len(r.Missing) != 0 {
		t.Errorf("u1: %+v, want 116 from production", r)
	}
	if r.Freshest == nil || r.Stalest == nil || *r.Freshest < 10 || *r.Freshest > 10+took+1 || *r.Stalest < 30 || *r.Stalest > 30+took+1 {
		t.Errorf("u1 feature ages freshest %v stalest %v, want about 10s and 30s", deref(r.Freshest), deref(r.Stalest))
	}
	m, _, err := modelfile.Decode(art)
	if err != nil {
		t.Fatal(err)
	}
	out := []float64{0}
	m.Predict([]float64{math.NaN(), math.NaN(), 1}, out)
	r = a.Results[1]
	if math.Abs(r.Prediction-out[0]) > 1e-9 || !slices.Equal(r.Missing, refs[:2]) || r.Freshest != nil {
		t.Errorf("unknown entity: %+v, want the model's answer for missing features %v", r, out[0])
	}
	if a.Freshest == nil || *a.Freshest != *a.Results[0].Freshest {
		t.Errorf("request freshest age %v", deref(a.Freshest))
	}

	for _, c := range []struct {
		name   string
		body   any
		code   int
		reason string
		want   string
	}{
		{"request feature missing", map[string]any{"entities": []any{"u1"}}, 422, "missing_feature", "req:amount"},
		{"malformed", map[string]any{"entities": 5}, 400, "malformed_input", "entities"},
		{"empty", map[string]any{"entities": []any{}}, 400, "malformed_input", "entities"},
		{"unknown field", map[string]any{"entities": []any{"u1"}, "x": 1}, 400, "malformed_input", "x"},
	} {
		code, body, _ := postJSON(t, p.URL+"/v1/predict/"+name, c.body)
		var e predictAnswer
		_ = json.Unmarshal(body, &e)
		if code != c.code || e.Reason != c.reason || !strings.Contains(e.Error, c.want) {
			t.Errorf("%s: %d %s, want %d %s naming %s", c.name, code, body, c.code, c.reason, c.want)
		}
	}
	if code, body, _ := postJSON(t, p.URL+"/v1/predict/nosuch-"+randomID(), map[string]any{"entities": []any{"u1"}}); code != 404 || !strings.Contains(string(body), "unknown_model") {
		t.Errorf("unknown model: %d %s", code, body)
	}

	// The predictions reach Kafka through the prediction log.
	testkit.Eventually(t, 30*time.Second, func() error {
		_, metrics := p.Get("/metrics")
		m := regexp.MustCompile(`(?m)^tributary_serving_prediction_log_sent_total ([0-9.e+]+)$`).FindStringSubmatch(string(metrics))
		if m == nil || m[1] == "0" {
			return fmt.Errorf("no prediction log record sent: %s", grep(string(metrics), "prediction_log"))
		}
		return nil
	})

	// Canary with weight 0.5 through the registry: the keys split within a
	// binomial bound, each key keeps its route, and the route header picks.
	v2 := s.register(t, name, "tributary", refs, nil, ridgeModel(t, []string{"sum_1h", "cb_1h", "amount"}, 200))
	w := 0.5
	s.move(t, name, "canary", v2.Version, &w)
	servedVersion(t, p, name, "canary", v2.Version)
	var ents []any
	for i := range 400 {
		ents = append(ents, map[string]any{"key": "k" + strconv.Itoa(i), "features": map[string]float64{"req:amount": 1}})
	}
	routes := func(header ...string) map[string]string {
		code, body, _ := postJSON(t, p.URL+"/v1/predict/"+name, map[string]any{"entities": ents}, header...)
		var a predictAnswer
		if err := json.Unmarshal(body, &a); err != nil || code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		out := map[string]string{}
		for _, r := range a.Results {
			if want := map[string]int{"production": ver.Version, "canary": v2.Version}[r.Route]; r.Version != want {
				t.Errorf("route %s answered by version %d", r.Route, r.Version)
			}
			out[r.Entity] = r.Route
		}
		return out
	}
	first := routes()
	canary := 0
	for _, r := range first {
		if r == "canary" {
			canary++
		}
	}
	if sd := math.Sqrt(400 * 0.25); math.Abs(float64(canary)-200) > 4.5*sd {
		t.Errorf("%d of 400 keys to the canary at weight 0.5", canary)
	}
	if again := routes(); !maps.Equal(first, again) {
		t.Error("keys changed routes between two requests")
	}
	for _, r := range routes("X-Tributary-Route", "canary") {
		if r != "canary" {
			t.Fatalf("the route header did not pick the canary: %s", r)
		}
	}

	// A model that reads a string online feature as a number (not a
	// categorical feature of its model file) is refused per request with
	// 422, naming the feature.
	catName := "cat-" + randomID()
	catRefs := []string{v.Name + ":lk"}
	cv := s.register(t, catName, "tributary", catRefs, map[string]string{v.Name: v.Version}, ridgeModel(t, []string{"lk"}, 1))
	s.move(t, catName, "production", cv.Version, nil)
	servedVersion(t, p, catName, "production", cv.Version)
	code, body, _ = postJSON(t, p.URL+"/v1/predict/"+catName, map[string]any{"entities": []any{"u1"}})
	if code != 422 || !strings.Contains(string(body), "unsupported_feature_value") || !strings.Contains(string(body), v.Name+":lk") {
		t.Errorf("string feature: %d %s", code, body)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
