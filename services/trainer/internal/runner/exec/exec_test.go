package exec_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/linear"
	"github.com/tributary-ml/tributary/libs/learn/modelfile"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner/exec"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

var features = []string{"txn:amount_sum_1h", "txn:count_1d"}

// tributaryModel writes a small logistic model file on features and
// returns its path.
func tributaryModel(t *testing.T, feats []string) string {
	t.Helper()
	d := &learn.Dataset{Rows: 40, Cols: len(feats), Features: feats}
	for i := range d.Rows {
		for j := range d.Cols {
			d.X = append(d.X, float64((i*7+j*3)%11)-5)
		}
		d.Y = append(d.Y, float64(i%2))
	}
	m, err := linear.TrainLogistic(context.Background(), d, learn.TaskBinary, linear.LogisticConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := modelfile.Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// script writes an sh script and returns its command.
func script(t *testing.T, body string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "train.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{path}
}

func request(t *testing.T, command []string, log *testkit.Buffer) runner.Request {
	return runner.Request{
		JobID: "job-1", RunID: "0123456789abcdef0123456789abcdef", Model: "fraud",
		TrainPath: "/data/train.parquet", HoldoutPath: "/data/holdout.parquet",
		Features: features, Label: "label", Task: learn.TaskBinary,
		Trainer: "custom", Params: map[string]string{"num_leaves": "31", "learning-rate": "0.1"},
		Seed: 42, Command: command, OutDir: t.TempDir(),
		Env: []string{"MLFLOW_TRACKING_URI=http://127.0.0.1:8083", "MLFLOW_RUN_ID=0123456789abcdef0123456789abcdef"},
		Log: log,
	}
}

func newRunner() *exec.Runner { return exec.New(exec.Config{Grace: 2 * time.Second}) }

func TestRunWritesValidModel(t *testing.T) {
	model := tributaryModel(t, features)
	var log testkit.Buffer
	cmd := script(t, fmt.Sprintf(`set -e
echo "training $TRIBUTARY_MODEL on $TRIBUTARY_FEATURES"
echo "to stderr" >&2
env | sort > "$TRIBUTARY_OUTPUT_DIR/env.txt"
pwd > "$TRIBUTARY_OUTPUT_DIR/pwd.txt"
cp %q "$TRIBUTARY_OUTPUT_DIR/model.json"
printf '{"train_log_loss": 0.25, "iterations": 12}' > metrics.json
cat > references.json <<'EOF'
{"txn:count_1d": {"kind": "numeric", "count": 3, "edges": [0, 1, 2], "counts": [1, 2]}}
EOF`, model))
	req := request(t, cmd, &log)
	res, err := newRunner().Run(context.Background(), req)
	if err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	if res.Format != runner.FormatTributary || res.ModelPath != filepath.Join(req.OutDir, "model.json") {
		t.Errorf("result %+v", res)
	}
	if res.Metrics["train_log_loss"] != 0.25 || res.Metrics["iterations"] != 12 || len(res.Metrics) != 2 {
		t.Errorf("metrics %v", res.Metrics)
	}
	if d, ok := res.References["txn:count_1d"]; !ok || d.Count != 3 || len(res.References) != 1 {
		t.Errorf("references %v", res.References)
	}
	for _, want := range []string{"training fraud on txn:amount_sum_1h,txn:count_1d", "to stderr", "[exec] exited with code 0"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	pwd, _ := os.ReadFile(filepath.Join(req.OutDir, "pwd.txt"))
	if strings.TrimSpace(string(pwd)) != req.OutDir {
		t.Errorf("working directory %q, want %q", pwd, req.OutDir)
	}
	raw, _ := os.ReadFile(filepath.Join(req.OutDir, "env.txt"))
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	want := map[string]string{
		"TRIBUTARY_TRAIN_PATH":          "/data/train.parquet",
		"TRIBUTARY_HOLDOUT_PATH":        "/data/holdout.parquet",
		"TRIBUTARY_OUTPUT_DIR":          req.OutDir,
		"TRIBUTARY_FEATURES":            "txn:amount_sum_1h,txn:count_1d",
		"TRIBUTARY_LABEL":               "label",
		"TRIBUTARY_TASK":                "binary",
		"TRIBUTARY_CLASSES":             "2",
		"TRIBUTARY_SEED":                "42",
		"TRIBUTARY_MODEL":               "fraud",
		"TRIBUTARY_JOB_ID":              "job-1",
		"TRIBUTARY_RUN_ID":              req.RunID,
		"TRIBUTARY_TRAINER":             "custom",
		"TRIBUTARY_PARAMS":              `{"learning-rate":"0.1","num_leaves":"31"}`,
		"TRIBUTARY_PARAM_NUM_LEAVES":    "31",
		"TRIBUTARY_PARAM_LEARNING_RATE": "0.1",
		"MLFLOW_TRACKING_URI":           "http://127.0.0.1:8083",
		"MLFLOW_RUN_ID":                 req.RunID,
		"PATH":                          os.Getenv("PATH"),
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	// The environment is the contract and a few basics, not the trainer's.
	allowed := map[string]bool{"HOME": true, "TMPDIR": true, "LANG": true, "PWD": true, "SHLVL": true, "_": true, "OLDPWD": true}
	for k := range env {
		if _, ok := want[k]; !ok && !allowed[k] {
			t.Errorf("unexpected variable %s in the command's environment", k)
		}
	}
	if tmp := env["TMPDIR"]; tmp == "" {
		t.Error("no TMPDIR")
	} else if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("TMPDIR %s not removed after the run: %v", tmp, err)
	}
}

// TestRunFailures runs commands that fail each way and checks the reason,
// the message, that the error is bad input and that the log kept what the
// command printed.
func TestRunFailures(t *testing.T) {
	valid := tributaryModel(t, features)
	other := tributaryModel(t, []string{"a:x", "a:y"})
	three := tributaryModel(t, []string{"txn:amount_sum_1h", "txn:count_1d", "txn:z"})
	tests := []struct {
		name    string
		body    string
		command []string
		reason  exec.Reason
		msg     []string // in the error
		log     []string // in the log
	}{
		{name: "non-zero exit", body: "echo started; echo 'ValueError: no rows' >&2; exit 3",
			reason: exec.ReasonExit, msg: []string{"exited with code 3", "ValueError: no rows"}, log: []string{"started", "ValueError: no rows", "exited with code 3"}},
		{name: "crash", body: "echo before crash; kill -SEGV $$",
			reason: exec.ReasonExit, msg: []string{"killed by signal segmentation fault"}, log: []string{"before crash"}},
		{name: "not found", command: []string{"tributary-no-such-command"},
			reason: exec.ReasonStart, msg: []string{"tributary-no-such-command"}},
		{name: "no model", body: "echo '{}' > metrics.json; echo trained nothing",
			reason: exec.ReasonNoModel, msg: []string{"wrote no model.json or model.txt"}, log: []string{"trained nothing", "outputs refused"}},
		{name: "two models", body: fmt.Sprintf("cp %q model.json; echo x > model.txt; echo '{}' > metrics.json", valid),
			reason: exec.ReasonNoModel, msg: []string{"both"}},
		{name: "unknown model file", body: "echo x > model.pkl; echo '{}' > metrics.json",
			reason: exec.ReasonNoModel, msg: []string{"model.pkl", "not a model file"}},
		{name: "garbage model.json", body: "echo '{\"weights\": [1]}' > model.json; echo '{}' > metrics.json",
			reason: exec.ReasonBadModel, msg: []string{"model.json", "neither a Tributary model file"}},
		{name: "corrupt tributary model", body: "echo '{\"format\": \"tributary.model\", \"version\": 1, \"kind\": \"logistic\"}' > model.json; echo '{}' > metrics.json",
			reason: exec.ReasonBadModel, msg: []string{"model.json", "does not load"}},
		{name: "other features", body: fmt.Sprintf("cp %q model.json; echo '{}' > metrics.json", other),
			reason: exec.ReasonBadModel, msg: []string{"its features are [a:x a:y]"}},
		{name: "feature count", body: fmt.Sprintf("cp %q model.json; echo '{}' > metrics.json", three),
			reason: exec.ReasonBadModel, msg: []string{"model.json"}},
		{name: "no metrics", body: fmt.Sprintf("cp %q model.json", valid),
			reason: exec.ReasonBadMetrics, msg: []string{"metrics.json: missing"}},
		{name: "garbage metrics", body: fmt.Sprintf("cp %q model.json; echo 'loss=0.3' > metrics.json", valid),
			reason: exec.ReasonBadMetrics, msg: []string{"metrics.json: not a JSON object"}},
		{name: "non-number metric", body: fmt.Sprintf(`cp %q model.json; echo '{"loss": "low"}' > metrics.json`, valid),
			reason: exec.ReasonBadMetrics, msg: []string{`metric "loss" is "low", want a finite number`}},
		{name: "nested metric", body: fmt.Sprintf(`cp %q model.json; echo '{"loss": {"train": 1}}' > metrics.json`, valid),
			reason: exec.ReasonBadMetrics, msg: []string{`metric "loss"`}},
		{name: "references of unknown name", body: fmt.Sprintf(`cp %q model.json; echo '{}' > metrics.json; echo '{"age": {"kind": "numeric", "count": 1, "edges": [0, 1], "counts": [1]}}' > references.json`, valid),
			reason: exec.ReasonBadReferences, msg: []string{`"age" is neither a feature`}},
		{name: "invalid reference", body: fmt.Sprintf(`cp %q model.json; echo '{}' > metrics.json; echo '{"prediction": {"kind": "numeric", "count": 1, "edges": [1, 0], "counts": [1]}}' > references.json`, valid),
			reason: exec.ReasonBadReferences, msg: []string{"edges must increase"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log testkit.Buffer
			cmd := tc.command
			if cmd == nil {
				cmd = script(t, tc.body)
			}
			_, err := newRunner().Run(context.Background(), request(t, cmd, &log))
			var e *exec.Error
			if !errors.As(err, &e) || e.Reason != tc.reason {
				t.Fatalf("error %v, want reason %s\nlog:\n%s", err, tc.reason, log.String())
			}
			if !errors.Is(err, runner.ErrBadInput) {
				t.Errorf("%v is not bad input", err)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q lacks %q", err, m)
				}
			}
			for _, m := range tc.log {
				if !strings.Contains(log.String(), m) {
					t.Errorf("log lacks %q:\n%s", m, log.String())
				}
			}
		})
	}
}

func TestBadRequest(t *testing.T) {
	for name, mod := range map[string]func(*runner.Request){
		"no command":       func(r *runner.Request) { r.Command = nil },
		"no output dir":    func(r *runner.Request) { r.OutDir = "" },
		"param collision":  func(r *runner.Request) { r.Params = map[string]string{"a.b": "1", "a_b": "2"} },
		"comma in feature": func(r *runner.Request) { r.Features = []string{"a,b"} },
	} {
		t.Run(name, func(t *testing.T) {
			req := request(t, []string{"true"}, nil)
			mod(&req)
			_, err := newRunner().Run(context.Background(), req)
			var e *exec.Error
			if !errors.As(err, &e) || e.Reason != exec.ReasonBadRequest || !errors.Is(err, runner.ErrBadInput) {
				t.Fatalf("error %v, want bad_request", err)
			}
		})
	}
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	testkit.Eventually(t, 10*time.Second, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	return pid
}

// TestDeadlineKillsTheTree runs a command that starts a child and hangs;
// at the deadline both die, the error says deadline, and the log keeps
// what was printed.
func TestDeadlineKillsTheTree(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		killed string // the log line of how it ended
	}{
		// sh exits on SIGTERM, the child (sleep) too.
		{name: "exits on SIGTERM", body: `sleep 300 & echo $! > "$TRIBUTARY_OUTPUT_DIR/child.pid"; echo hanging; wait`, killed: "stopped after"},
		// Ignores SIGTERM: SIGKILL after the grace period.
		{name: "ignores SIGTERM", body: `trap '' TERM; sh -c 'trap "" TERM; sleep 300' & echo $! > "$TRIBUTARY_OUTPUT_DIR/child.pid"; echo hanging; while :; do sleep 1; done`, killed: "SIGKILL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log testkit.Buffer
			req := request(t, script(t, tc.body), &log)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			r := exec.New(exec.Config{Grace: 300 * time.Millisecond})
			start := time.Now()
			_, err := r.Run(ctx, req)
			took := time.Since(start)
			var e *exec.Error
			if !errors.As(err, &e) || e.Reason != exec.ReasonDeadline {
				t.Fatalf("error %v, want deadline_exceeded\nlog:\n%s", err, log.String())
			}
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, runner.ErrBadInput) {
				t.Errorf("%v: want DeadlineExceeded and ErrBadInput", err)
			}
			if took > 5*time.Second {
				t.Errorf("took %s to stop", took)
			}
			for _, want := range []string{"hanging", tc.killed} {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, log.String())
				}
			}
			child := readPID(t, filepath.Join(req.OutDir, "child.pid"))
			testkit.Eventually(t, 5*time.Second, func() error {
				if alive(child) {
					return fmt.Errorf("child %d still running", child)
				}
				return nil
			})
		})
	}
}

// TestExitKillsLeftovers: a command that exits leaving a child in the
// background does not leave it running, and Run does not wait for it.
func TestExitKillsLeftovers(t *testing.T) {
	model := tributaryModel(t, features)
	var log testkit.Buffer
	req := request(t, script(t, fmt.Sprintf(`sleep 300 & echo $! > child.pid; cp %q model.json; echo '{}' > metrics.json`, model)), &log)
	start := time.Now()
	if _, err := newRunner().Run(context.Background(), req); err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("run took %s: it waited for the child", took)
	}
	child := readPID(t, filepath.Join(req.OutDir, "child.pid"))
	testkit.Eventually(t, 5*time.Second, func() error {
		if alive(child) {
			return fmt.Errorf("child %d still running", child)
		}
		return nil
	})
}

// TestCanceledIsNotBadInput: the trainer stopping (shutdown) is retryable.
func TestCanceledIsNotBadInput(t *testing.T) {
	var log testkit.Buffer
	req := request(t, script(t, `echo started; sleep 300`), &log)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		testkit.Poll(ctx, 10*time.Second, func(context.Context) error {
			if !strings.Contains(log.String(), "started") {
				return errors.New("not started")
			}
			return nil
		})
		cancel()
	}()
	_, err := exec.New(exec.Config{Grace: 300 * time.Millisecond}).Run(ctx, req)
	var e *exec.Error
	if !errors.As(err, &e) || e.Reason != exec.ReasonCanceled || errors.Is(err, runner.ErrBadInput) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want canceled, not bad input", err)
	}
}

// TestRelativeCommand resolves ./script against Config.Dir, not against the
// output directory the command runs in.
func TestRelativeCommand(t *testing.T) {
	dir := t.TempDir()
	model := tributaryModel(t, features)
	if err := os.WriteFile(filepath.Join(dir, "train.sh"), []byte(fmt.Sprintf("#!/bin/sh\ncp %q model.json; echo '{}' > metrics.json\n", model)), 0o755); err != nil {
		t.Fatal(err)
	}
	var log testkit.Buffer
	if _, err := exec.New(exec.Config{Dir: dir}).Run(context.Background(), request(t, []string{"./train.sh"}, &log)); err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
}

// TestDeadlinePassedBeforeStart does not start the command.
func TestDeadlinePassedBeforeStart(t *testing.T) {
	var log testkit.Buffer
	req := request(t, script(t, `touch "$TRIBUTARY_OUTPUT_DIR/started"`), &log)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := newRunner().Run(ctx, req)
	var e *exec.Error
	if !errors.As(err, &e) || e.Reason != exec.ReasonDeadline {
		t.Fatalf("error %v, want deadline_exceeded", err)
	}
	if _, err := os.Stat(filepath.Join(req.OutDir, "started")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command ran: %v", err)
	}
}
