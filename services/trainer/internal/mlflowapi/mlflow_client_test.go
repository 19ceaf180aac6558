package mlflowapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/services/trainer/internal/mlflowapi"
	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
	"github.com/tributary-ml/tributary/services/trainer/internal/runstest"
)

// requirementsFile is the repository's pinned Python requirements.
const requirementsFile = "../../../../deploy/local/python/requirements.txt"

// python returns the interpreter of the repository's venv (TRIBUTARY_PYTHON,
// made by `make pyenv`), checked to have the pinned mlflow-skinny.
func python(t *testing.T) string {
	t.Helper()
	py := os.Getenv("TRIBUTARY_PYTHON")
	if py == "" {
		if testing.Short() {
			t.Skip("TRIBUTARY_PYTHON is not set; skipped with -short")
		}
		t.Fatal("TRIBUTARY_PYTHON is not set: run `make pyenv` (it builds the venv from deploy/local/python/requirements.txt) and run the tests with `make test`, or export TRIBUTARY_PYTHON=<venv>/bin/python")
	}
	want := pinnedVersion(t, "mlflow-skinny")
	out, err := exec.Command(py, "-c", "import mlflow; print(mlflow.__version__)").CombinedOutput()
	if err != nil {
		t.Fatalf("TRIBUTARY_PYTHON=%s cannot import mlflow (run `make pyenv`): %v\n%s", py, err, out)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("TRIBUTARY_PYTHON=%s has mlflow %s, %s pins %s: run `make pyenv`", py, got, requirementsFile, want)
	}
	return py
}

func pinnedVersion(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(requirementsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=="); ok && n == name {
			return v
		}
	}
	t.Fatalf("%s does not pin %s", requirementsFile, name)
	return ""
}

// recorder records the requests the client made and the answers' status.
type recorder struct {
	h    http.Handler
	mu   sync.Mutex
	seen []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, code: 200}
	rec.h.ServeHTTP(sw, r)
	rec.mu.Lock()
	rec.seen = append(rec.seen, fmt.Sprintf("%s %s -> %d", r.Method, r.URL.Path, sw.code))
	rec.mu.Unlock()
}

func (rec *recorder) log() string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return strings.Join(rec.seen, "\n")
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

type readBack struct {
	Status         string              `json:"status"`
	RunName        string              `json:"run_name"`
	ExperimentID   string              `json:"experiment_id"`
	StartTime      int64               `json:"start_time"`
	EndTime        *int64              `json:"end_time"`
	LifecycleStage string              `json:"lifecycle_stage"`
	ArtifactURI    string              `json:"artifact_uri"`
	Params         map[string]string   `json:"params"`
	Metrics        map[string]*float64 `json:"metrics"`
	Tags           map[string]string   `json:"tags"`
	LossHistory    [][2]float64        `json:"loss_history"`
}

type scriptResult struct {
	RunID               string   `json:"run_id"`
	ExperimentID        string   `json:"experiment_id"`
	ExperimentAgain     string   `json:"experiment_again"`
	StatusDuring        string   `json:"status_during"`
	RelogSame           *string  `json:"relog_same"`
	RelogChanged        *string  `json:"relog_changed"`
	MissingRun          *string  `json:"missing_run"`
	DuplicateExperiment *string  `json:"duplicate_experiment"`
	MissingExperiment   bool     `json:"missing_experiment"`
	FailedRunID         string   `json:"failed_run_id"`
	KilledRunID         string   `json:"killed_run_id"`
	Run                 readBack `json:"run"`
	MLflowVersion       string   `json:"mlflow_version"`
}

func runScript(t *testing.T, py, uri, mode string, env ...string) scriptResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/mlflow_client.py", mode)
	home := t.TempDir()
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"MLFLOW_TRACKING_URI=" + uri,
		"MLFLOW_HTTP_REQUEST_MAX_RETRIES=2", "MLFLOW_HTTP_REQUEST_TIMEOUT=20",
		"PYTHONDONTWRITEBYTECODE=1",
	}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mlflow_client.py %s: %v\nstderr:\n%s", mode, err, stderr.String())
	}
	// The client prints its own lines ("View run ... at"); the result is
	// the last one.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res scriptResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("mlflow_client.py %s printed %q: %v\nstderr:\n%s", mode, stdout.String(), err, stderr.String())
	}
	return res
}

func str(p *string) string {
	if p == nil {
		return "<none>"
	}
	return *p
}

// TestRealMLflowClient runs the mlflow client from PyPI (mlflow-skinny, the
// version pinned in deploy/local/python/requirements.txt) against the API,
// then reads the runs from the store and checks every value it logged.
func TestRealMLflowClient(t *testing.T) {
	py := python(t)
	st := runstest.Store(t, runstest.JetStream(t, 0))
	rec := &recorder{h: newMux(st)}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	defer func() {
		if t.Failed() {
			t.Logf("requests:\n%s", rec.log())
		}
	}()
	ctx := context.Background()
	before := time.Now().UnixMilli()

	t.Run("own run", func(t *testing.T) {
		res := runScript(t, py, srv.URL, "own", "TEST_EXPERIMENT=fraud-tuning")
		if res.MLflowVersion != pinnedVersion(t, "mlflow-skinny") {
			t.Errorf("ran mlflow %s", res.MLflowVersion)
		}
		exp, err := st.ExperimentByName(ctx, "fraud-tuning")
		if err != nil {
			t.Fatalf("set_experiment did not create the experiment: %v", err)
		}
		if res.ExperimentID != exp.ID || res.ExperimentAgain != exp.ID {
			t.Errorf("experiment ids: created %s, found again %s, store %s", res.ExperimentID, res.ExperimentAgain, exp.ID)
		}
		if str(res.RelogSame) != "<none>" || str(res.RelogChanged) != "INVALID_PARAMETER_VALUE" ||
			str(res.MissingRun) != "RESOURCE_DOES_NOT_EXIST" || str(res.DuplicateExperiment) != "RESOURCE_ALREADY_EXISTS" || !res.MissingExperiment {
			t.Errorf("error codes: relog same %s, relog changed %s, missing run %s, duplicate experiment %s, missing experiment is None %v",
				str(res.RelogSame), str(res.RelogChanged), str(res.MissingRun), str(res.DuplicateExperiment), res.MissingExperiment)
		}
		if res.StatusDuring != "RUNNING" {
			t.Errorf("status inside the with block %s", res.StatusDuring)
		}

		for id, want := range map[string]runs.Status{res.FailedRunID: runs.StatusFailed, res.KilledRunID: runs.StatusKilled} {
			r, err := st.Run(ctx, id)
			if err != nil || r.Status != want || r.EndTime == 0 || r.ExperimentID != exp.ID {
				t.Errorf("run %s: %+v, %v; want it %s with an end time", id, r, err, want)
			}
		}

		r, err := st.Run(ctx, res.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if r.ExperimentID != exp.ID || r.Name != "py-own" || r.Status != runs.StatusFinished || r.StartTime < before || r.EndTime < r.StartTime || r.LifecycleStage != "active" {
			t.Errorf("run info: experiment %s name %q status %s start %d end %d stage %s", r.ExperimentID, r.Name, r.Status, r.StartTime, r.EndTime, r.LifecycleStage)
		}
		wantParams := map[string]string{"alpha": "0.5", "depth": "3", "objective": "logloss", "batch_param": "x"}
		if !equalMaps(r.Params, wantParams) {
			t.Errorf("params %v, want %v", r.Params, wantParams)
		}
		for k, v := range map[string]string{"team": "risk", "stage": "tuning", "batch_tag": "y", "mlflow.runName": "py-own"} {
			if r.Tags[k] != v {
				t.Errorf("tag %s = %q, want %q (tags %v)", k, r.Tags[k], v, r.Tags)
			}
		}
		if r.Tags["mlflow.user"] == "" || r.Tags["mlflow.source.name"] == "" {
			t.Errorf("the client's own tags are missing: %v", r.Tags)
		}
		wantMetrics := map[string][2]float64{ // value, step
			"loss": {0.2, 4}, "auc": {0.91, 4}, "f1": {0.8, 4}, "batch_metric": {2.5, 7}, "async_metric": {1.5, 1},
		}
		for k, want := range wantMetrics {
			m, ok := r.Metrics[k]
			if !ok || float64(m.Value) != want[0] || m.Step != int64(want[1]) || m.Timestamp < before {
				t.Errorf("metric %s = %+v (present %v), want value %v step %v", k, m, ok, want[0], want[1])
			}
		}
		if m, ok := r.Metrics["not_a_number"]; !ok || !math.IsNaN(float64(m.Value)) {
			t.Errorf("NaN metric = %+v (present %v)", m, ok)
		}
		if len(r.Metrics) != len(wantMetrics)+1 {
			t.Errorf("metrics %v", r.Metrics)
		}
		h, err := st.History(ctx, r.ID, "loss")
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Points) != 5 {
			t.Fatalf("loss history %+v, want 5 points", h.Points)
		}
		for i, p := range h.Points {
			if p.Step != int64(i) || float64(p.Value) != 1/float64(i+1) || p.Timestamp < before {
				t.Errorf("loss point %d = %+v, want step %d value %v", i, p, i, 1/float64(i+1))
			}
		}

		// What the client read back through the API is the store's.
		got := res.Run
		if got.Status != "FINISHED" || got.RunName != "py-own" || got.ExperimentID != exp.ID || got.StartTime != r.StartTime ||
			got.EndTime == nil || *got.EndTime != r.EndTime || got.LifecycleStage != "active" || got.ArtifactURI != "mlflow-artifacts:/"+exp.ID+"/"+r.ID+"/artifacts" {
			t.Errorf("run read by the client: %+v", got)
		}
		if !equalMaps(got.Params, r.Params) || !equalMaps(got.Tags, r.Tags) {
			t.Errorf("params or tags read by the client differ: %v %v", got.Params, got.Tags)
		}
		if got.Metrics["not_a_number"] != nil || got.Metrics["auc"] == nil || *got.Metrics["auc"] != 0.91 {
			t.Errorf("metrics read by the client: %v", got.Metrics)
		}
		if len(got.LossHistory) != 5 || got.LossHistory[4] != [2]float64{4, 0.2} {
			t.Errorf("loss history read by the client: %v", got.LossHistory)
		}
	})

	t.Run("resumed by MLFLOW_RUN_ID", func(t *testing.T) {
		// What the exec runner does: create the job's run, then start the
		// script with MLFLOW_RUN_ID.
		seed := int64(7)
		job, err := st.CreateRun(ctx, runs.Run{Model: "fraud", JobID: "job-42", Trainer: "exec", Seed: &seed, Params: map[string]string{"seed": "7"}})
		if err != nil {
			t.Fatal(err)
		}
		res := runScript(t, py, srv.URL, "resume", mlflowapi.TrackingEnv(srv.URL, job.ID)...)
		if res.RunID != job.ID || res.StatusDuring != "RUNNING" {
			t.Fatalf("resumed run %s (status %s), want %s", res.RunID, res.StatusDuring, job.ID)
		}
		r, err := st.Run(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != runs.StatusFinished || r.EndTime == 0 || r.Model != "fraud" || r.JobID != "job-42" || *r.Seed != 7 {
			t.Errorf("resumed run: status %s end %d model %s job %s", r.Status, r.EndTime, r.Model, r.JobID)
		}
		if !equalMaps(r.Params, map[string]string{"seed": "7", "resumed": "yes"}) || r.Tags["runner"] != "exec" {
			t.Errorf("resumed run params %v tags %v", r.Params, r.Tags)
		}
		if r.Metrics["holdout_auc"].Value != 0.88 || r.Metrics["train_auc"].Value != 0.93 {
			t.Errorf("resumed run metrics %v", r.Metrics)
		}
		if got := res.Run; got.Params["resumed"] != "yes" || got.Status != "FINISHED" {
			t.Errorf("resumed run read by the client: %+v", got)
		}
	})

	// Every request the client made was to an endpoint this API serves.
	for _, line := range strings.Split(rec.log(), "\n") {
		if strings.HasSuffix(line, "-> 404") && !strings.Contains(line, "/runs/get") && !strings.Contains(line, "get-by-name") {
			t.Errorf("the client called an endpoint that is not served: %s", line)
		}
		if strings.HasSuffix(line, "-> 500") || strings.HasSuffix(line, "-> 501") {
			t.Errorf("the client got a server error: %s", line)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func newMux(st *runs.Store) *http.ServeMux {
	mux := http.NewServeMux()
	for pattern, h := range newAPI(st).Routes() {
		mux.Handle(pattern, h)
	}
	return mux
}
