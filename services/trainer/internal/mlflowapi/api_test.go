package mlflowapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/services/trainer/internal/mlflowapi"
	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
	"github.com/tributary-ml/tributary/services/trainer/internal/runstest"
)

func newAPI(st *runs.Store) *mlflowapi.API {
	return mlflowapi.New(func() *runs.Store { return st }, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func do(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: answer %q is not JSON: %v", method, path, w.Body.String(), err)
	}
	return w.Code, out
}

func batchOf(n int, item func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item(i)
	}
	return strings.Join(parts, ",")
}

// TestErrors checks the answers to bad requests: MLflow's error codes and
// statuses, and messages that say what is wrong.
func TestErrors(t *testing.T) {
	st := runstest.Store(t, runstest.JetStream(t, 0))
	run, err := st.CreateRun(context.Background(), runs.Run{Params: map[string]string{"lr": "0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	mux := newMux(st)
	id := run.ID
	metric := func(i int) string { return fmt.Sprintf(`{"key":"m%d","value":1,"timestamp":1,"step":0}`, i) }
	param := func(i int) string { return fmt.Sprintf(`{"key":"p%d","value":"v"}`, i) }
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, message            string
	}{
		{"unknown field", "POST", "/api/2.0/mlflow/runs/log-parameter", `{"run_id":"` + id + `","key":"a","value":"1","colour":"red"}`, 400, "INVALID_PARAMETER_VALUE", `unknown field "colour"`},
		{"not json", "POST", "/api/2.0/mlflow/runs/log-metric", `{"run_id":`, 400, "INVALID_PARAMETER_VALUE", "request body"},
		{"empty body", "POST", "/api/2.0/mlflow/runs/create", ``, 400, "INVALID_PARAMETER_VALUE", "empty"},
		{"two values", "POST", "/api/2.0/mlflow/runs/set-tag", `{"run_id":"` + id + `","key":"a","value":"1"} {}`, 400, "INVALID_PARAMETER_VALUE", "more than one JSON value"},
		{"wrong type", "POST", "/api/2.0/mlflow/runs/log-metric", `{"run_id":"` + id + `","key":"a","value":"high","timestamp":1}`, 400, "INVALID_PARAMETER_VALUE", "not a number"},
		{"bad status", "POST", "/api/2.0/mlflow/runs/update", `{"run_id":"` + id + `","status":"DONE"}`, 400, "INVALID_PARAMETER_VALUE", "DONE"},
		{"missing run id", "POST", "/api/2.0/mlflow/runs/log-parameter", `{"key":"a","value":"1"}`, 400, "INVALID_PARAMETER_VALUE", "'run_id'"},
		{"missing value", "POST", "/api/2.0/mlflow/runs/log-parameter", `{"run_id":"` + id + `","key":"a"}`, 400, "INVALID_PARAMETER_VALUE", "'value'"},
		{"missing timestamp", "POST", "/api/2.0/mlflow/runs/log-metric", `{"run_id":"` + id + `","key":"a","value":1}`, 400, "INVALID_PARAMETER_VALUE", "'timestamp'"},
		{"changed param", "POST", "/api/2.0/mlflow/runs/log-parameter", `{"run_id":"` + id + `","key":"lr","value":"0.2"}`, 400, "INVALID_PARAMETER_VALUE", "already logged"},
		{"missing run", "GET", "/api/2.0/mlflow/runs/get?run_id=abc", ``, 404, "RESOURCE_DOES_NOT_EXIST", "abc"},
		{"log to missing run", "POST", "/api/2.0/mlflow/runs/log-batch", `{"run_id":"abc","params":[{"key":"a","value":"1"}]}`, 404, "RESOURCE_DOES_NOT_EXIST", "abc"},
		{"missing experiment", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=123", ``, 404, "RESOURCE_DOES_NOT_EXIST", "123"},
		{"missing experiment name", "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=nope", ``, 404, "RESOURCE_DOES_NOT_EXIST", "nope"},
		{"unknown query parameter", "GET", "/api/2.0/mlflow/runs/get?run_id=" + id + "&verbose=1", ``, 400, "INVALID_PARAMETER_VALUE", `"verbose"`},
		{"run in a missing experiment", "POST", "/api/2.0/mlflow/runs/create", `{"experiment_id":"999"}`, 404, "RESOURCE_DOES_NOT_EXIST", "999"},
		{"default experiment exists", "POST", "/api/2.0/mlflow/experiments/create", `{"name":"Default"}`, 400, "RESOURCE_ALREADY_EXISTS", "Default"},
		{"too many metrics", "POST", "/api/2.0/mlflow/runs/log-batch", `{"run_id":"` + id + `","metrics":[` + batchOf(1001, metric) + `]}`, 400, "INVALID_PARAMETER_VALUE", "at most 1000 metrics"},
		{"too many params", "POST", "/api/2.0/mlflow/runs/log-batch", `{"run_id":"` + id + `","params":[` + batchOf(101, param) + `]}`, 400, "INVALID_PARAMETER_VALUE", "at most 100 params"},
		{"too many in total", "POST", "/api/2.0/mlflow/runs/log-batch", `{"run_id":"` + id + `","metrics":[` + batchOf(950, metric) + `],"params":[` + batchOf(60, param) + `]}`, 400, "INVALID_PARAMETER_VALUE", "in total"},
		{"body too large", "POST", "/api/2.0/mlflow/runs/set-tag", `{"run_id":"` + id + `","key":"a","value":"` + strings.Repeat("x", mlflowapi.MaxBodyBytes) + `"}`, 413, "INVALID_PARAMETER_VALUE", "larger than"},
		{"param value too long", "POST", "/api/2.0/mlflow/runs/log-parameter", `{"run_id":"` + id + `","key":"big","value":"` + strings.Repeat("x", 6001) + `"}`, 400, "INVALID_PARAMETER_VALUE", "6000"},
		{"unknown endpoint", "POST", "/api/2.0/mlflow/runs/search", `{}`, 404, "ENDPOINT_NOT_FOUND", "runs/search"},
		{"wrong method", "GET", "/api/2.0/mlflow/runs/create", ``, 404, "ENDPOINT_NOT_FOUND", "GET"},
		{"artifact upload", "PUT", "/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/model.pkl", `data`, 501, "NOT_IMPLEMENTED", "artifacts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, mux, tc.method, tc.path, tc.body)
			msg, _ := body["message"].(string)
			if status != tc.status || body["error_code"] != tc.code || !strings.Contains(msg, tc.message) {
				t.Errorf("%d %v, want %d %s with %q in the message", status, body, tc.status, tc.code, tc.message)
			}
		})
	}
	// None of the refused requests changed the run.
	got, err := st.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Params) != 1 || len(got.Tags) != 0 || len(got.Metrics) != 0 || got.Status != runs.StatusRunning {
		t.Errorf("refused requests changed the run: %+v", got)
	}
}

// TestShapes checks the JSON the client parses, field by field, and the
// protobuf JSON variants accepted on input (int64 as strings, status by
// number).
func TestShapes(t *testing.T) {
	st := runstest.Store(t, runstest.JetStream(t, 0))
	mux := newMux(st)
	status, body := do(t, mux, "POST", "/api/2.0/mlflow/runs/create",
		`{"experiment_id":"0","start_time":"1700000000000","run_name":"shape","tags":[{"key":"k","value":"v"}]}`)
	if status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	info := body["run"].(map[string]any)["info"].(map[string]any)
	id := info["run_id"].(string)
	want := map[string]any{
		"run_id": id, "run_uuid": id, "run_name": "shape", "experiment_id": "0", "user_id": "",
		"status": "RUNNING", "start_time": 1.7e12, "lifecycle_stage": "active", "artifact_uri": "mlflow-artifacts:/0/" + id + "/artifacts",
	}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("run.info.%s = %v, want %v", k, info[k], v)
		}
	}
	if _, ok := info["end_time"]; ok {
		t.Errorf("run.info.end_time present on a running run: %v", info)
	}
	for _, req := range []struct{ path, body string }{
		{"/api/2.0/mlflow/runs/log-metric", `{"run_id":"` + id + `","key":"loss","value":"NaN","timestamp":"5","step":"2"}`},
		{"/api/2.0/mlflow/runs/log-batch", `{"run_id":"` + id + `","metrics":[{"key":"auc","value":0.5,"timestamp":6,"step":1}],"params":[{"key":"p","value":"1"}],"tags":[{"key":"t","value":"2"}]}`},
		{"/api/2.0/mlflow/runs/update", `{"run_uuid":"` + id + `","status":3,"end_time":1700000001000}`},
	} {
		if status, body := do(t, mux, "POST", req.path, req.body); status != 200 {
			t.Fatalf("%s: %d %v", req.path, status, body)
		}
	}
	status, body = do(t, mux, "GET", "/api/2.0/mlflow/runs/get?run_uuid="+id, "")
	if status != 200 {
		t.Fatalf("get: %d %v", status, body)
	}
	r := body["run"].(map[string]any)
	info, data := r["info"].(map[string]any), r["data"].(map[string]any)
	if info["status"] != "FINISHED" || info["end_time"] != 1.700000001e12 {
		t.Errorf("run.info after update: %v", info)
	}
	b, _ := json.Marshal(data)
	// (re-encoded from a map: keys sorted)
	wantData := `{"metrics":[{"key":"auc","step":1,"timestamp":6,"value":0.5},{"key":"loss","step":2,"timestamp":5,"value":"NaN"}],` +
		`"params":[{"key":"p","value":"1"}],"tags":[{"key":"k","value":"v"},{"key":"mlflow.runName","value":"shape"},{"key":"t","value":"2"}]}`
	if string(b) != wantData {
		t.Errorf("run.data\n got %s\nwant %s", b, wantData)
	}
	status, body = do(t, mux, "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default", "")
	if e, _ := body["experiment"].(map[string]any); status != 200 || e["experiment_id"] != "0" || e["name"] != "Default" || e["lifecycle_stage"] != "active" {
		t.Errorf("default experiment: %d %v", status, body)
	}
}

func TestUnavailable(t *testing.T) {
	api := mlflowapi.New(func() *runs.Store { return nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	mux := http.NewServeMux()
	for p, h := range api.Routes() {
		mux.Handle(p, h)
	}
	status, body := do(t, mux, "GET", "/api/2.0/mlflow/runs/get?run_id=x", "")
	if status != 503 || body["error_code"] != "TEMPORARILY_UNAVAILABLE" {
		t.Errorf("before the store is open: %d %v, want 503 TEMPORARILY_UNAVAILABLE (the client retries it)", status, body)
	}
}
