package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/service/servicetest"
	"github.com/tributary-ml/tributary/services/trainer/internal/runstest"
)

// TestHelp keeps testdata/help.txt (the -h output) and the flag table in the
// README in step with the flags; UPDATE_GOLDEN=1 rewrites both.
func TestHelp(t *testing.T) {
	servicetest.CheckHelp(t, program(), "testdata/help.txt", "../../README.md")
}

func TestDockerfile(t *testing.T) {
	if got := program().HTTPAddr; got != ":8083" {
		t.Errorf("default HTTP address %q, want :8083", got)
	}
	servicetest.CheckDockerfile(t, "../../../..", "trainer", "8083")
}

// TestStartReadyStop runs the service against the real infrastructure: it
// becomes ready with a passing check per dependency, and SIGTERM stops it
// cleanly.
func TestStartReadyStop(t *testing.T) {
	servicetest.RequireServers(t, "nats", "clickhouse")
	p := servicetest.Start(t, program())
	p.WaitReady(30 * time.Second)
	checks := p.Checks()
	for _, name := range []string{"nats", "clickhouse", "bootstrap"} {
		if e, ok := checks[name]; !ok || e != "" {
			t.Errorf("readiness check %s: present %v, error %q", name, ok, e)
		}
	}
	if len(checks) != 3 {
		t.Errorf("unexpected readiness checks: %v", checks)
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
}

// TestServesRuns starts the service on a NATS server of its own: the MLflow
// tracking API and the runs API are wired to the run store on
// tributary_jobs, which the bootstrap created.
func TestServesRuns(t *testing.T) {
	js := runstest.JetStream(t, 0)
	p := servicetest.Start(t, program(), "-nats.url", js.Conn().ConnectedUrl())
	p.WaitReady(30 * time.Second)
	p.WaitLog(30*time.Second, func(r map[string]any) bool { return r["msg"] == "run store open" })

	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(p.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("POST %s: answer is not JSON: %v", path, err)
		}
		return resp.StatusCode, out
	}
	code, created := post("/api/2.0/mlflow/runs/create", `{"experiment_id":"0","run_name":"wired","start_time":1}`)
	if code != 200 {
		t.Fatalf("runs/create: %d %v", code, created)
	}
	id := created["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	if code, out := post("/api/2.0/mlflow/runs/log-batch", `{"run_id":"`+id+`","params":[{"key":"lr","value":"0.1"}],"metrics":[{"key":"auc","value":0.9,"timestamp":2,"step":0}]}`); code != 200 {
		t.Fatalf("runs/log-batch: %d %v", code, out)
	}

	st := runstest.Store(t, js)
	r, err := st.Run(context.Background(), id)
	if err != nil || r.Name != "wired" || r.Params["lr"] != "0.1" || r.Metrics["auc"].Value != 0.9 {
		t.Fatalf("run in the store: %+v, %v", r, err)
	}
	code, body := p.Get("/v1/runs/compare?ids=" + id)
	if code != 200 || !strings.Contains(string(body), `"lr"`) || !strings.Contains(string(body), `"auc"`) {
		t.Fatalf("GET /v1/runs/compare: %d %s", code, body)
	}
	if _, metrics := p.Get("/metrics"); !strings.Contains(string(metrics), "tributary_trainer_runs_cas_conflicts_total 0") {
		t.Errorf("/metrics lacks the run store's conflict counter")
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
}
