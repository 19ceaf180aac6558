package kube_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/linear"
	"github.com/tributary-ml/tributary/libs/learn/modelfile"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner/exec"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner/kube"
	"github.com/tributary-ml/tributary/services/trainer/internal/runstest"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

const ns = "ml"

var features = []string{"txn:amount_sum_1h", "txn:count_1d"}

// env is a fixture: a fake cluster, an embedded NATS with the platform's
// object store, and a runner on both.
type env struct {
	t      *testing.T
	client *fake.Clientset
	js     jetstream.JetStream
	store  jetstream.ObjectStore
	runner *kube.Runner
}

func newEnv(t *testing.T) *env {
	t.Helper()
	js := runstest.JetStream(t, 0)
	ctx := context.Background()
	store, err := js.ObjectStore(ctx, natsx.ObjectStoreArtifacts)
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()
	r, err := kube.New(kube.Config{
		Namespace: ns, HelperImage: "tributary/trainer:test", NATSURL: js.Conn().ConnectedUrl(),
		ServiceAccount: "trainer-jobs", PollInterval: 50 * time.Millisecond,
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
	}, client, store)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, client: client, js: js, store: store, runner: r}
}

func (e *env) request(runID string, log *testkit.Buffer) runner.Request {
	dir := e.t.TempDir()
	train, holdout := filepath.Join(dir, "train.parquet"), filepath.Join(dir, "holdout.parquet")
	if err := os.WriteFile(train, []byte("PAR1 training rows PAR1"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(holdout, []byte("PAR1 holdout rows PAR1"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return runner.Request{
		JobID: "job-7", RunID: runID, Model: "fraud",
		TrainPath: train, HoldoutPath: holdout, Features: features, Label: "label", Task: learn.TaskBinary,
		Trainer: "lightgbm", Seed: 3, Image: "registry.example/fraud-train:1.2", Command: []string{"python", "/app/train.py"},
		Params: map[string]string{"num_leaves": "31", "k8s.limits.memory": "2Gi", "k8s.requests.memory": "1Gi"},
		OutDir: e.t.TempDir(),
		Env:    []string{"MLFLOW_TRACKING_URI=http://trainer.tributary:8083", "MLFLOW_RUN_ID=" + runID},
		Log:    log,
	}
}

// awaitJob waits for the runner's Job.
func (e *env) awaitJob(ctx context.Context) *batchv1.Job {
	var job *batchv1.Job
	if err := testkit.Poll(ctx, 20*time.Second, func(ctx context.Context) error {
		list, err := e.client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(list.Items) != 1 {
			return fmt.Errorf("%d jobs", len(list.Items))
		}
		job = &list.Items[0]
		return nil
	}); err != nil {
		e.t.Errorf("no job: %v", err)
		return nil
	}
	return job
}

// containerEnv is a container's environment with the pod's /tributary
// directory moved to root.
func containerEnv(c corev1.Container, root string) func(string) string {
	m := map[string]string{}
	for _, v := range c.Env {
		m[v.Name] = strings.Replace(v.Value, "/tributary/", root+"/", 1)
	}
	return func(k string) string { return m[k] }
}

func container(job *batchv1.Job, name string) corev1.Container {
	spec := job.Spec.Template.Spec
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		if c.Name == name {
			return c
		}
	}
	return corev1.Container{}
}

// pod plays the pod of job: the fetch step, then train (given the output
// directory and the pod's environment; it returns the train container's
// exit code), then, when train exited 0, the upload step. It records the
// pod with its containers' statuses and returns the train exit code.
func (e *env) pod(ctx context.Context, job *batchv1.Job, train func(out string, getenv func(string) string) int32) int32 {
	root := e.t.TempDir()
	if err := kube.PodStep(ctx, kube.StepFetch, containerEnv(container(job, kube.ContainerFetch), root)); err != nil {
		e.t.Errorf("fetch: %v", err)
		return -1
	}
	trainEnv := containerEnv(container(job, kube.ContainerTrain), root)
	code := train(trainEnv(exec.EnvOutputDir), trainEnv)
	statuses := []corev1.ContainerStatus{
		{Name: kube.ContainerFetch, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
		{Name: kube.ContainerTrain, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error"}}},
	}
	if code == 0 {
		if err := kube.PodStep(ctx, kube.StepUpload, containerEnv(container(job, kube.ContainerUpload), root)); err != nil {
			e.t.Errorf("upload: %v", err)
		}
	}
	e.createPod(ctx, job, statuses, nil)
	return code
}

func (e *env) createPod(ctx context.Context, job *batchv1.Job, init, main []corev1.ContainerStatus) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-abcde", Namespace: ns, Labels: map[string]string{"job-name": job.Name}},
		Spec:       job.Spec.Template.Spec,
		Status:     corev1.PodStatus{InitContainerStatuses: init, ContainerStatuses: main},
	}
	if _, err := e.client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		e.t.Errorf("create pod: %v", err)
	}
}

// finish sets the Job's condition as the Job controller does.
func (e *env) finish(ctx context.Context, job *batchv1.Job, typ batchv1.JobConditionType, reason, msg string) {
	j, err := e.client.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil {
		e.t.Errorf("get job: %v", err)
		return
	}
	j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: msg})
	if _, err := e.client.BatchV1().Jobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		e.t.Errorf("update job status: %v", err)
	}
}

// gone checks that the run left no Job and no object behind.
func (e *env) gone(runID string) {
	e.t.Helper()
	list, err := e.client.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		e.t.Errorf("jobs left: %v %v", list, err)
	}
	objs, err := e.store.List(context.Background())
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		e.t.Fatal(err)
	}
	for _, o := range objs {
		if strings.HasPrefix(o.Name, kube.ObjectPrefix(runID)) {
			e.t.Errorf("object %s left", o.Name)
		}
	}
}

func modelBytes(t *testing.T) []byte {
	t.Helper()
	d := &learn.Dataset{Rows: 20, Cols: len(features), Features: features}
	for i := range d.Rows {
		d.X = append(d.X, float64(i%5), float64(i%3))
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
	return buf.Bytes()
}

func TestJobSucceeds(t *testing.T) {
	e := newEnv(t)
	var log testkit.Buffer
	runID := "0123456789abcdef0123456789abcdef"
	req := e.request(runID, &log)
	model := modelBytes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		job := e.awaitJob(ctx)
		if job == nil {
			return
		}
		checkJob(t, job, req)
		e.pod(ctx, job, func(out string, getenv func(string) string) int32 {
			// The pod got the very training set and holdout.
			for path, want := range map[string]string{getenv(exec.EnvTrainPath): req.TrainPath, getenv(exec.EnvHoldoutPath): req.HoldoutPath} {
				got, err := os.ReadFile(path)
				w, _ := os.ReadFile(want)
				if err != nil || !bytes.Equal(got, w) {
					t.Errorf("pod's %s: %q, %v; want %q", path, got, err, w)
				}
			}
			if err := os.WriteFile(filepath.Join(out, "model.json"), model, 0o644); err != nil {
				t.Error(err)
			}
			if err := os.WriteFile(filepath.Join(out, "metrics.json"), []byte(`{"train_loss": 0.5}`), 0o644); err != nil {
				t.Error(err)
			}
			return 0
		})
		e.finish(ctx, job, batchv1.JobComplete, "", "")
	}()
	res, err := e.runner.Run(ctx, req)
	wg.Wait()
	if err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	if res.Format != runner.FormatTributary || res.Metrics["train_loss"] != 0.5 {
		t.Errorf("result %+v", res)
	}
	got, err := os.ReadFile(res.ModelPath)
	if err != nil || !bytes.Equal(got, model) || filepath.Dir(res.ModelPath) != req.OutDir {
		t.Errorf("model %s: %v", res.ModelPath, err)
	}
	for _, want := range []string{"created job ml/tributary-train-" + runID, "container train:\nfake logs", "succeeded"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	e.gone(runID)
}

// checkJob checks the Job the runner made for req.
func checkJob(t *testing.T, job *batchv1.Job, req runner.Request) {
	t.Helper()
	if job.Name != "tributary-train-"+req.RunID || job.Labels[kube.LabelRunID] != req.RunID || job.Annotations[kube.AnnotationModel] != "fraud" {
		t.Errorf("job meta %+v", job.ObjectMeta)
	}
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 {
		t.Errorf("backoffLimit %v, want 0", job.Spec.BackoffLimit)
	}
	if d := job.Spec.ActiveDeadlineSeconds; d == nil || *d < 50 || *d > 60 {
		t.Errorf("activeDeadlineSeconds %v, want the context's 60s", d)
	}
	spec := job.Spec.Template.Spec
	if spec.RestartPolicy != corev1.RestartPolicyNever || spec.ServiceAccountName != "trainer-jobs" {
		t.Errorf("pod spec %s %s", spec.RestartPolicy, spec.ServiceAccountName)
	}
	if len(spec.InitContainers) != 2 || len(spec.Containers) != 1 {
		t.Fatalf("containers: %d init, %d", len(spec.InitContainers), len(spec.Containers))
	}
	train := container(job, kube.ContainerTrain)
	if train.Image != req.Image || !slices.Equal(train.Command, req.Command) || train.WorkingDir != "/tributary/out" {
		t.Errorf("train container %s %v %s", train.Image, train.Command, train.WorkingDir)
	}
	if fetch := container(job, kube.ContainerFetch); fetch.Image != "tributary/trainer:test" || !slices.Equal(fetch.Command, []string{"/tributary-runner", "fetch"}) {
		t.Errorf("fetch container %s %v", fetch.Image, fetch.Command)
	}
	want := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
	}
	for _, l := range []struct{ got, want corev1.ResourceList }{{train.Resources.Requests, want.Requests}, {train.Resources.Limits, want.Limits}} {
		if len(l.got) != len(l.want) {
			t.Errorf("resources %v, want %v", train.Resources, want)
		}
		for k, q := range l.want {
			if g := l.got[k]; g.Cmp(q) != 0 {
				t.Errorf("resource %s = %s, want %s", k, g.String(), q.String())
			}
		}
	}
	ev := map[string]string{}
	for _, v := range train.Env {
		ev[v.Name] = v.Value
	}
	for k, v := range map[string]string{
		"TRIBUTARY_TRAIN_PATH": "/tributary/in/train.parquet", "TRIBUTARY_OUTPUT_DIR": "/tributary/out",
		"TRIBUTARY_FEATURES": "txn:amount_sum_1h,txn:count_1d", "TRIBUTARY_TASK": "binary", "TRIBUTARY_SEED": "3",
		"TRIBUTARY_PARAMS": `{"num_leaves":"31"}`, "TRIBUTARY_PARAM_NUM_LEAVES": "31", "MLFLOW_RUN_ID": req.RunID,
	} {
		if ev[k] != v {
			t.Errorf("train env %s=%q, want %q", k, ev[k], v)
		}
	}
	if _, ok := ev[kube.EnvNATSURL]; ok {
		t.Error("the train container has the object store's address; only the helpers need it")
	}
	var params map[string]string
	if err := json.Unmarshal([]byte(ev["TRIBUTARY_PARAMS"]), &params); err != nil || params["k8s.limits.memory"] != "" {
		t.Errorf("k8s.* parameters reach the code: %v %v", params, err)
	}
}

// TestJobFailures drives the Job to each way of failing.
func TestJobFailures(t *testing.T) {
	tests := []struct {
		name     string
		play     func(ctx context.Context, e *env, job *batchv1.Job)
		reason   exec.Reason // "" for a retryable error that is not an *exec.Error
		badInput bool
		msg      string
	}{
		{name: "train exits non-zero", reason: exec.ReasonExit, badInput: true, msg: "container train exited with code 3",
			play: func(ctx context.Context, e *env, job *batchv1.Job) {
				e.pod(ctx, job, func(string, func(string) string) int32 { return 3 })
				e.finish(ctx, job, batchv1.JobFailed, batchv1.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit")
			}},
		{name: "oom killed", reason: exec.ReasonExit, badInput: true, msg: "container train exited with code 137 (OOMKilled)",
			play: func(ctx context.Context, e *env, job *batchv1.Job) {
				e.createPod(ctx, job, []corev1.ContainerStatus{
					{Name: kube.ContainerTrain, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}},
				}, nil)
				e.finish(ctx, job, batchv1.JobFailed, batchv1.JobReasonBackoffLimitExceeded, "")
			}},
		{name: "active deadline", reason: exec.ReasonDeadline, badInput: true, msg: "activeDeadlineSeconds",
			play: func(ctx context.Context, e *env, job *batchv1.Job) {
				e.finish(ctx, job, batchv1.JobFailed, batchv1.JobReasonDeadlineExceeded, "Job was active longer than specified deadline")
			}},
		{name: "no model", reason: exec.ReasonNoModel, badInput: true, msg: "wrote no model.json or model.txt",
			play: func(ctx context.Context, e *env, job *batchv1.Job) {
				e.pod(ctx, job, func(out string, _ func(string) string) int32 {
					os.WriteFile(filepath.Join(out, "metrics.json"), []byte(`{}`), 0o644)
					return 0
				})
				e.finish(ctx, job, batchv1.JobComplete, "", "")
			}},
		{name: "image pull", reason: exec.ReasonStart, badInput: true, msg: "ErrImagePull",
			play: func(ctx context.Context, e *env, job *batchv1.Job) {
				e.createPod(ctx, job, []corev1.ContainerStatus{
					{Name: kube.ContainerTrain, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}}},
				}, nil)
			}},
		{name: "evicted", msg: "no container exiting non-zero; pod tributary-train-run5-abcde: Evicted The node was low on resource: memory",
			play: func(ctx context.Context, e *env, job *batchv1.Job) {
				e.createPod(ctx, job, []corev1.ContainerStatus{
					{Name: kube.ContainerFetch, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
				}, nil)
				p, err := e.client.CoreV1().Pods(ns).Get(ctx, job.Name+"-abcde", metav1.GetOptions{})
				if err != nil {
					e.t.Error(err)
					return
				}
				p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
				if _, err := e.client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
					e.t.Error(err)
				}
				e.finish(ctx, job, batchv1.JobFailed, batchv1.JobReasonBackoffLimitExceeded, "")
			}},
		{name: "upload helper fails", msg: "container upload exited with code 1",
			play: func(ctx context.Context, e *env, job *batchv1.Job) {
				e.createPod(ctx, job, []corev1.ContainerStatus{
					{Name: kube.ContainerTrain, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
				}, []corev1.ContainerStatus{
					{Name: kube.ContainerUpload, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}},
				})
				e.finish(ctx, job, batchv1.JobFailed, batchv1.JobReasonBackoffLimitExceeded, "")
			}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var log testkit.Buffer
			runID := fmt.Sprintf("run%d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if job := e.awaitJob(ctx); job != nil {
					tc.play(ctx, e, job)
				}
			}()
			_, err := e.runner.Run(ctx, e.request(runID, &log))
			wg.Wait()
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one saying %q\nlog:\n%s", err, tc.msg, log.String())
			}
			var xe *exec.Error
			if isExec := errors.As(err, &xe); tc.reason != "" && (!isExec || xe.Reason != tc.reason) {
				t.Errorf("error %v, want reason %s", err, tc.reason)
			}
			if errors.Is(err, runner.ErrBadInput) != tc.badInput {
				t.Errorf("error %v: bad input %v, want %v", err, !tc.badInput, tc.badInput)
			}
			if !strings.Contains(log.String(), "created job") {
				t.Errorf("log:\n%s", log.String())
			}
			e.gone(runID)
		})
	}
}

// TestContextDeadline: a Job that never finishes is deleted at the run's
// deadline.
func TestContextDeadline(t *testing.T) {
	e := newEnv(t)
	var log testkit.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := e.runner.Run(ctx, e.request("slow", &log))
	var xe *exec.Error
	if !errors.As(err, &xe) || xe.Reason != exec.ReasonDeadline || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want deadline_exceeded", err)
	}
	e.gone("slow")
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	for name, mod := range map[string]func(*runner.Request){
		"no image":            func(r *runner.Request) { r.Image = "" },
		"no command":          func(r *runner.Request) { r.Command = nil },
		"bad run id":          func(r *runner.Request) { r.RunID = "Run_1" },
		"unknown k8s param":   func(r *runner.Request) { r.Params = map[string]string{"k8s.limits.disk": "1Gi"} },
		"bad quantity":        func(r *runner.Request) { r.Params = map[string]string{"k8s.limits.cpu": "two"} },
		"request above limit": func(r *runner.Request) { r.Params = map[string]string{"k8s.requests.cpu": "4", "k8s.limits.cpu": "2"} },
	} {
		t.Run(name, func(t *testing.T) {
			req := e.request("bad", nil)
			mod(&req)
			_, err := e.runner.Run(context.Background(), req)
			var xe *exec.Error
			if !errors.As(err, &xe) || xe.Reason != exec.ReasonBadRequest || !errors.Is(err, runner.ErrBadInput) {
				t.Fatalf("error %v, want bad_request", err)
			}
			e.gone("bad")
		})
	}
}
