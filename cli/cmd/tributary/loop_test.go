package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder answers with a canned body per path and records the requests.
type recorder struct {
	mu       sync.Mutex
	requests []string
	bodies   []string
	answers  map[string]string // "METHOD path": body (200)
}

func (f *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
	f.bodies = append(f.bodies, string(b))
	f.mu.Unlock()
	body, ok := f.answers[r.Method+" "+r.URL.Path]
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		io.WriteString(w, `{"error":"no model named nope is served","reason":"unknown_model"}`)
		return
	}
	io.WriteString(w, body)
}

func envWith(kv ...string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1], true
			}
		}
		return "", false
	}
}

func TestPredictCommand(t *testing.T) {
	f := &recorder{answers: map[string]string{"POST /v1/predict/fraud": `{"model":"fraud","as_of":"2026-12-01T10:00:00.123Z",
"results":[{"entity":"c1","prediction_id":"p-1","version":3,"route":"canary","prediction":0.91,"probabilities":[0.09,0.91],"stalest_feature_age_seconds":1.5},
{"entity":"c2","prediction_id":"p-2","version":2,"route":"production","prediction":0.1,"stalest_feature_age_seconds":null,"missing_features":["txn:count_1h"]}]}`}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	env := envWith("TRIBUTARY_SERVING_URL", srv.URL)
	ctx := context.Background()

	var out, errOut bytes.Buffer
	if err := predict(ctx, []string{"fraud", "c1", "-f", "req:amount=12.5", "c2"}, env, http.DefaultClient, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if f.requests[0] != "POST /v1/predict/fraud" || f.bodies[0] != `{"entities":[{"features":{"req:amount":12.5},"key":"c1"},{"features":{"req:amount":12.5},"key":"c2"}]}` {
		t.Errorf("asked %s %s", f.requests[0], f.bodies[0])
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[1]), " ") != "c1 0.91 3 canary 1.5s - p-1" ||
		strings.Join(strings.Fields(lines[2]), " ") != "c2 0.1 2 production - txn:count_1h p-2" {
		t.Errorf("table:\n%s", out.String())
	}

	// Without -f, entities are plain keys; -o json is the service's answer.
	out.Reset()
	if err := predict(ctx, []string{"-o", "json", "fraud", "c1"}, env, http.DefaultClient, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var a predictAnswer
	if f.bodies[1] != `{"entities":["c1"]}` || json.Unmarshal(out.Bytes(), &a) != nil || len(a.Results) != 2 || a.Results[0].Probabilities[1] != 0.91 {
		t.Errorf("json: asked %s, printed %s", f.bodies[1], out.String())
	}

	// The service's error, with its reason, names the service.
	err := predict(ctx, []string{"nope", "c1"}, env, http.DefaultClient, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "serving at "+srv.URL) || !strings.Contains(err.Error(), "unknown_model") {
		t.Errorf("unknown model: %v", err)
	}
	// An address nothing listens on.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	err = predict(ctx, []string{"-serving.url", "http://" + addr, "fraud", "c1"}, env, http.DefaultClient, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "serving at http://"+addr+": dial tcp") {
		t.Errorf("unreachable: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fraud"}, "want MODEL and at least one ENTITY"},
		{[]string{"-f", "x", "fraud", "c1"}, "want view:feature=number"},
		{[]string{"-f", "a:b=high", "fraud", "c1"}, `"high" is not a number`},
		{[]string{"-o", "yaml", "fraud", "c1"}, "-o \"yaml\""},
		{[]string{"-serving.url", "localhost:8085", "fraud", "c1"}, "want an http(s) URL"},
	} {
		err := predict(ctx, tc.args, env, http.DefaultClient, &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestFeaturesGet(t *testing.T) {
	f := &recorder{answers: map[string]string{
		"GET /v1/features/txn/c1": `{"view":"txn","version":"abc","entity":"c1","as_of":"2026-12-01T10:00:00Z",
			"values":{"count_1h":{"value":3,"event_time":"2026-12-01T09:59:00.5Z"},"amount_sum_1h":{"value":42.5,"event_time":"2026-12-01T09:59:00.5Z"}}}`,
		"GET /v1/features/txn/c9": `{"view":"txn","version":"abc","entity":"c9","as_of":"2026-12-01T10:00:00Z","values":{"count_1h":{"value":null,"event_time":null}}}`,
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	t.Setenv("TRIBUTARY_FEATURES_URL", srv.URL)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"features", "get", "txn", "c1", "c9"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want := []string{
		"ENTITY FEATURE VALUE NEWEST EVENT",
		"c1 txn:amount_sum_1h 42.5 2026-12-01T09:59:00.5Z",
		"c1 txn:count_1h 3 2026-12-01T09:59:00.5Z",
		"c9 txn:count_1h null -",
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for i := range want {
		if i >= len(lines) || strings.Join(strings.Fields(lines[i]), " ") != want[i] {
			t.Fatalf("line %d: want %q:\n%s", i, want[i], out.String())
		}
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"features", "get", "txn"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "want VIEW and at least one ENTITY") {
		t.Errorf("get without entity: exit %d %s", code, errOut.String())
	}
}

func TestModelsPromote(t *testing.T) {
	f := &recorder{answers: map[string]string{
		"PUT /v1/models/fraud/aliases/production": `{"model":"fraud","alias":"production","from_version":1,"to_version":2,"revision":5}`,
		"PUT /v1/models/fraud/aliases/canary":     `{"model":"fraud","alias":"canary","to_version":3,"weight":0.2,"revision":6}`,
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	env := envWith("TRIBUTARY_REGISTRY_URL", srv.URL)
	var out bytes.Buffer
	if err := models(context.Background(), []string{"promote", "fraud", "2", "-actor", "ana", "-reason", "better auc"}, env, http.DefaultClient, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := models(context.Background(), []string{"promote", "-alias", "canary", "-weight", "0.2", "fraud", "3"}, env, http.DefaultClient, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if f.requests[0] != "PUT /v1/models/fraud/aliases/production" || f.bodies[0] != `{"actor":"ana","reason":"better auc","version":2}` {
		t.Errorf("promote asked %s %s", f.requests[0], f.bodies[0])
	}
	if f.requests[1] != "PUT /v1/models/fraud/aliases/canary" || !strings.Contains(f.bodies[1], `"weight":0.2`) || !strings.Contains(f.bodies[1], `"version":3`) {
		t.Errorf("promote canary asked %s %s", f.requests[1], f.bodies[1])
	}
	if got := out.String(); !strings.Contains(got, "moved production of fraud: 1 -> 2, revision 5") || !strings.Contains(got, "moved canary of fraud: - -> 3 (weight 0.2), revision 6") {
		t.Errorf("printed %q", got)
	}
}

// TestDriftShow reads the drift rows of a scratch database: newest window
// first, filtered by model, version and -drifted.
func TestDriftShow(t *testing.T) {
	ctx := context.Background()
	cfg, _ := statusDatabase(t, ctx)
	t.Setenv("TRIBUTARY_CLICKHOUSE_DATABASE", cfg.Database)
	for _, tc := range []struct {
		args []string
		want []string // the rows' FEATURE METHOD VALUE ... DRIFTED, in order
	}{
		{[]string{"drift", "show"}, []string{"txn:amount_sum_1h psi 0.42 - 0.2 0 YES", "txn:count_1h psi 0.05 - 0.2 0 no", "(prediction) psi 0 - 0.2 0 skipped: few_values", "txn:amount_sum_1h psi 0.01 - 0.2 0 no"}},
		{[]string{"drift", "show", "fraud", "-drifted"}, []string{"txn:amount_sum_1h psi 0.42 - 0.2 0 YES"}},
		{[]string{"drift", "show", "-version", "3", "fraud"}, nil},
		{[]string{"drift", "show", "other"}, nil},
	} {
		var out, errOut bytes.Buffer
		if code := run(ctx, tc.args, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if tc.want == nil {
			if !strings.HasPrefix(out.String(), "no drift figures in the last 24h0m0s") {
				t.Errorf("%v: %s", tc.args, out.String())
			}
			continue
		}
		if len(lines) != len(tc.want)+1 {
			t.Fatalf("%v: %d lines:\n%s", tc.args, len(lines), out.String())
		}
		for i, w := range tc.want {
			f := strings.Fields(lines[i+1])
			if got := strings.Join(f[4:], " "); got != w {
				t.Errorf("%v row %d: %q, want %q", tc.args, i, got, w)
			}
		}
	}
	// -o json
	var out bytes.Buffer
	if code := run(ctx, []string{"drift", "show", "-o", "json", "-drifted"}, &out, io.Discard); code != 0 {
		t.Fatal(code)
	}
	var rows []driftRow
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil || len(rows) != 1 || !rows[0].Drifted || rows[0].Value != 0.42 || rows[0].WindowSeconds != 300 ||
		rows[0].WindowStart.After(time.Now()) {
		t.Errorf("json %v %s", err, out.String())
	}
}
