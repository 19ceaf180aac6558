package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/httpapi"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
	"github.com/tributary-ml/tributary/services/trainer/internal/trainertest"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

// submitter records jobs without running them.
type submitter struct{ store *jobs.Store }

func (s submitter) Submit(ctx context.Context, req jobs.Request) (jobs.Job, jobs.Outcome, error) {
	return s.store.Submit(ctx, req)
}

func TestAPI(t *testing.T) {
	e := trainertest.StartEmbedded(t)
	_, js := e.Connect()
	kv := e.Jobs(js)
	store := jobs.NewStore(kv)
	spec := &trainspec.Spec{Model: "m", Features: []string{"v:a"}, Labels: "l", Task: trainspec.TaskBinary,
		Trainer: trainspec.Trainer{Runner: "go", Name: "logistic"}, Window: featurespec.Duration(time.Hour), Holdout: 0.2, Metric: "auc",
		Policy: trainspec.Policy{Kind: trainspec.PolicyManual}}
	if _, err := trainspec.Apply(context.Background(), kv, spec, time.Now()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	httpapi.New(submitter{store}, store, kv).Handle(func(p string, h http.Handler) { mux.Handle(p, h) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
		return resp.StatusCode, out
	}
	code, out := call("POST", "/v1/models/m/train", `{"job_id":"j1","reason":"why"}`)
	job, _ := out["job"].(map[string]any)
	if code != 202 || out["outcome"] != "active" || job["job_id"] != "j1" || job["reason"] != "why" || job["requested_by"] != "http" || job["trigger"] != "manual" {
		t.Fatalf("train: %d %v", code, out)
	}
	if code, out := call("POST", "/v1/models/m/train", `{"job_id":"j1"}`); code != 200 || out["outcome"] != "duplicate" {
		t.Errorf("repeated job id: %d %v", code, out)
	}
	if code, out := call("POST", "/v1/models/m/train", ``); code != 202 || out["outcome"] != "queued" {
		t.Errorf("second job: %d %v", code, out)
	}
	for _, c := range []struct {
		method, path, body string
		code               int
		reason             string
	}{
		{"POST", "/v1/models/nope/train", `{}`, 404, "spec_not_found"},
		{"POST", "/v1/models/m/train", `{"job":"x"}`, 400, "malformed_request"},
		{"POST", "/v1/models/m/train", `{"job_id":"a b"}`, 400, "malformed_request"},
		{"GET", "/v1/jobs/none", ``, 404, "job_not_found"},
		{"GET", "/v1/jobs?limit=0", ``, 400, "malformed_request"},
		{"GET", "/v1/models/nope/spec", ``, 404, "spec_not_found"},
	} {
		code, out := call(c.method, c.path, c.body)
		if code != c.code || out["reason"] != c.reason {
			t.Errorf("%s %s %s: %d %v, want %d %s", c.method, c.path, c.body, code, out, c.code, c.reason)
		}
	}
	code, out = call("GET", "/v1/jobs/j1", ``)
	steps, _ := out["steps"].([]any)
	if code != 200 || out["status"] != "queued" || len(steps) != 5 {
		t.Errorf("job: %d %v", code, out)
	}
	code, out = call("GET", "/v1/jobs?model=m", ``)
	if list, _ := out["jobs"].([]any); code != 200 || len(list) != 2 {
		t.Errorf("jobs: %d %v", code, out)
	}
	code, out = call("GET", "/v1/models/m/spec", ``)
	if code != 200 || out["version"] != spec.Version() {
		t.Errorf("spec: %d %v", code, out)
	}
}
