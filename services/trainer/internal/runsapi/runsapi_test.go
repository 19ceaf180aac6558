package runsapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
	"github.com/tributary-ml/tributary/services/trainer/internal/runsapi"
	"github.com/tributary-ml/tributary/services/trainer/internal/runstest"
)

func serve(t *testing.T, st *runs.Store) *http.ServeMux {
	t.Helper()
	get := func() *runs.Store { return st }
	if st == nil {
		get = func() *runs.Store { return nil }
	}
	mux := http.NewServeMux()
	for p, h := range runsapi.New(get, slog.New(slog.NewTextHandler(io.Discard, nil))).Routes() {
		mux.Handle(p, h)
	}
	return mux
}

func get(t *testing.T, mux http.Handler, path string, out any) int {
	t.Helper()
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
		t.Fatalf("GET %s: %q is not JSON: %v", path, w.Body.String(), err)
	}
	return w.Code
}

func TestRunsAPI(t *testing.T) {
	st := runstest.Store(t, runstest.JetStream(t, 0))
	ctx := context.Background()
	mk := func(r runs.Run, b runs.Batch) runs.Run {
		r, err := st.CreateRun(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.LogBatch(ctx, r.ID, b); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AppendLog(ctx, r.ID, runs.Stdout, []byte("epoch 1\n")); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := mk(runs.Run{Model: "fraud", StartTime: 1000}, runs.Batch{
		Params:  []runs.Param{{Key: "lr", Value: "0.1"}},
		Metrics: []runs.Metric{{Key: "auc", Value: 0.8, Step: 0, Timestamp: 1}, {Key: "auc", Value: 0.85, Step: 1, Timestamp: 2}},
	})
	b := mk(runs.Run{Model: "fraud", StartTime: 2000}, runs.Batch{
		Params:  []runs.Param{{Key: "lr", Value: "0.2"}, {Key: "depth", Value: "4"}},
		Metrics: []runs.Metric{{Key: "loss", Value: runs.Float(math.NaN()), Timestamp: 1}},
	})
	mk(runs.Run{Model: "churn", StartTime: 3000}, runs.Batch{})
	mux := serve(t, st)

	var list runsapi.List
	if code := get(t, mux, "/v1/runs?model=fraud", &list); code != 200 || len(list.Runs) != 2 || list.Runs[0].ID != b.ID || list.Truncated {
		t.Fatalf("list model=fraud: %d %+v", code, list)
	}
	if list.Runs[0].Log.Stdout.Data != "" {
		t.Errorf("the list carries logs: %+v", list.Runs[0].Log)
	}
	if code := get(t, mux, "/v1/runs?limit=1", &list); code != 200 || len(list.Runs) != 1 || !list.Truncated {
		t.Fatalf("list limit=1: %d %+v", code, list)
	}

	var run runs.Run
	if code := get(t, mux, "/v1/runs/"+a.ID, &run); code != 200 || run.Params["lr"] != "0.1" || run.Metrics["auc"].Value != 0.85 || run.Log.Stdout.Data != "epoch 1\n" {
		t.Fatalf("show: %d %+v", code, run)
	}
	var h runs.History
	if code := get(t, mux, "/v1/runs/"+a.ID+"/metrics/auc", &h); code != 200 || len(h.Points) != 2 || h.Points[0].Value != 0.8 {
		t.Fatalf("history: %d %+v", code, h)
	}

	var cmp runsapi.Comparison
	if code := get(t, mux, "/v1/runs/compare?ids="+a.ID+","+b.ID, &cmp); code != 200 {
		t.Fatalf("compare: %d %+v", code, cmp)
	}
	if strings.Join(cmp.Params, ",") != "depth,lr" || strings.Join(cmp.Metrics, ",") != "auc,loss" || len(cmp.Runs) != 2 {
		t.Fatalf("compare columns: params %v metrics %v, %d rows", cmp.Params, cmp.Metrics, len(cmp.Runs))
	}
	ra, rb := cmp.Runs[0], cmp.Runs[1]
	if ra.ID != a.ID || ra.Params["lr"] != "0.1" || ra.Params["depth"] != "" || ra.Metrics["auc"] != 0.85 || rb.Params["depth"] != "4" || !math.IsNaN(float64(rb.Metrics["loss"])) {
		t.Errorf("compare rows: %+v %+v", ra, rb)
	}

	for _, tc := range []struct {
		path   string
		status int
		id     string
	}{
		{"/v1/runs/nope", 404, "not_found"},
		{"/v1/runs/compare?ids=" + a.ID + ",nope", 404, "not_found"},
		{"/v1/runs/compare?ids=" + a.ID + "," + a.ID, 400, "invalid"},
		{"/v1/runs/compare?ids=", 400, "invalid"},
		{"/v1/runs?limit=0", 400, "invalid"},
		{"/v1/runs?status=DONE", 400, "invalid"},
		{"/v1/runs?modle=fraud", 400, "invalid"},
		{"/v1/runs/bad.id", 400, "invalid"},
	} {
		var e runsapi.ErrorBody
		if code := get(t, mux, tc.path, &e); code != tc.status || e.Error.ID != tc.id || e.Error.Message == "" {
			t.Errorf("GET %s: %d %+v, want %d %s", tc.path, code, e, tc.status, tc.id)
		}
	}
	var e runsapi.ErrorBody
	if code := get(t, serve(t, nil), "/v1/runs", &e); code != 503 || e.Error.ID != "unavailable" {
		t.Errorf("before the store is open: %d %+v", code, e)
	}
}
