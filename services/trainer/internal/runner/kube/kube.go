package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner/exec"
)

// Config is the kubernetes runner's configuration.
type Config struct {
	// Namespace the Jobs are made in.
	Namespace string
	// HelperImage holds the tributary-runner binary (the trainer's image
	// has it at /tributary-runner); HelperCommand runs it (default
	// ["/tributary-runner"]), the step (fetch, upload) is appended.
	HelperImage   string
	HelperCommand []string
	// NATSURL is the NATS server as the pods reach it; NATSCredsSecret, if
	// set, is a Secret holding the credentials file under NATSCredsKey
	// (default nats.creds).
	NATSURL         string
	NATSCredsSecret string
	NATSCredsKey    string
	// Bucket is the object store the training set and outputs go through
	// (default tributary_artifacts).
	Bucket string
	// ServiceAccount of the pods (default: the namespace's default).
	ServiceAccount string
	// Resources are the train container's default requests and limits;
	// the k8s.* parameters override them.
	Resources corev1.ResourceRequirements
	// Deadline is the Job's activeDeadlineSeconds when the run's context
	// has no deadline (default 1h).
	Deadline time.Duration
	// TTLAfterFinished lets Kubernetes delete a Job the runner could not
	// (default 1h).
	TTLAfterFinished time.Duration
	// PollInterval is how often the Job and its pod are read besides the
	// watch (default 10s).
	PollInterval time.Duration
	// Env is extra environment of the train container.
	Env []string
	// MaxLogBytes bounds each container's log read back (default 1 MiB).
	MaxLogBytes int64
}

func (c *Config) defaults() error {
	if c.Namespace == "" || c.HelperImage == "" || c.NATSURL == "" {
		return errors.New("kubernetes runner: a namespace, a helper image and a NATS URL are required")
	}
	if len(c.HelperCommand) == 0 {
		c.HelperCommand = []string{"/tributary-runner"}
	}
	if c.NATSCredsKey == "" {
		c.NATSCredsKey = credsFile
	}
	if c.Bucket == "" {
		c.Bucket = natsx.ObjectStoreArtifacts
	}
	if c.Deadline <= 0 {
		c.Deadline = time.Hour
	}
	if c.TTLAfterFinished <= 0 {
		c.TTLAfterFinished = time.Hour
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 10 * time.Second
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = 1 << 20
	}
	return nil
}

// Runner runs training code as Kubernetes Jobs; it is safe for concurrent
// use.
type Runner struct {
	cfg    Config
	client kubernetes.Interface
	store  jetstream.ObjectStore
}

var _ runner.Runner = (*Runner)(nil)

// New returns a Runner that makes Jobs with client and moves files through
// store (the bucket cfg.Bucket names, as the pods reach it).
func New(cfg Config, client kubernetes.Interface, store jetstream.ObjectStore) (*Runner, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, client: client, store: store}, nil
}

var runIDPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

// ObjectPrefix is where a run's objects are kept.
func ObjectPrefix(runID string) string { return "trainer/runs/" + runID + "/" }

// cleanupTimeout bounds deleting a run's Job and objects after it ended.
const cleanupTimeout = 30 * time.Second

// Run uploads the training set, runs req.Command in req.Image as a Job,
// waits for it to finish (or the deadline of ctx), writes the pods' logs
// into req.Log, downloads the outputs into req.OutDir and checks them like
// the exec runner. The Job and the run's objects are deleted at the end,
// whatever happened.
func (r *Runner) Run(ctx context.Context, req runner.Request) (runner.Result, error) {
	log := req.Log
	if log == nil {
		log = io.Discard
	}
	switch {
	case req.Image == "":
		return runner.Result{}, &exec.Error{Reason: exec.ReasonBadRequest, Detail: "no image"}
	case len(req.Command) == 0:
		return runner.Result{}, &exec.Error{Reason: exec.ReasonBadRequest, Detail: "no command"}
	case !runIDPattern.MatchString(req.RunID):
		return runner.Result{}, &exec.Error{Reason: exec.ReasonBadRequest, Detail: fmt.Sprintf("run id %q cannot name a Job", req.RunID)}
	case req.OutDir == "" || req.TrainPath == "":
		return runner.Result{}, &exec.Error{Reason: exec.ReasonBadRequest, Detail: "no training set or output directory"}
	}
	deadline := int64(r.cfg.Deadline.Seconds())
	if d, ok := ctx.Deadline(); ok {
		deadline = max(1, int64(math.Ceil(time.Until(d).Seconds())))
	}
	prefix := ObjectPrefix(req.RunID)
	job, err := r.buildJob(req, prefix, deadline)
	if err != nil {
		return runner.Result{}, &exec.Error{Reason: exec.ReasonBadRequest, Detail: err.Error()}
	}

	defer r.cleanup(ctx, job.Name, prefix, log)
	if err := putFile(ctx, r.store, prefix+ObjectTrain, req.TrainPath); err != nil {
		return runner.Result{}, fmt.Errorf("upload the training set: %w", err)
	}
	if req.HoldoutPath != "" {
		if err := putFile(ctx, r.store, prefix+ObjectHoldout, req.HoldoutPath); err != nil {
			return runner.Result{}, fmt.Errorf("upload the holdout: %w", err)
		}
	}
	jobs := r.client.BatchV1().Jobs(r.cfg.Namespace)
	if _, err := jobs.Create(ctx, job, metav1.CreateOptions{}); err != nil {
		if apierrors.IsInvalid(err) {
			return runner.Result{}, &exec.Error{Reason: exec.ReasonBadRequest, Detail: "the cluster refused the Job: " + err.Error(), Err: err}
		}
		return runner.Result{}, fmt.Errorf("create job %s/%s: %w", r.cfg.Namespace, job.Name, err)
	}
	fmt.Fprintf(log, "[kubernetes] created job %s/%s: %s in %s, deadline %ds\n", r.cfg.Namespace, job.Name, job.Annotations[AnnotationCommand], req.Image, deadline)
	start := time.Now()

	done, werr := r.wait(ctx, job.Name)
	r.writeLogs(context.WithoutCancel(ctx), job.Name, log)
	took := time.Since(start).Round(time.Millisecond)
	if werr != nil {
		fmt.Fprintf(log, "[kubernetes] job %s: %v after %s\n", job.Name, werr, took)
		return runner.Result{}, werr
	}
	if err := r.failure(ctx, done); err != nil {
		fmt.Fprintf(log, "[kubernetes] job %s failed after %s: %v\n", job.Name, took, err)
		return runner.Result{}, err
	}
	fmt.Fprintf(log, "[kubernetes] job %s succeeded after %s\n", job.Name, took)
	names, err := download(ctx, r.store, prefix, req.OutDir)
	if err != nil {
		return runner.Result{}, fmt.Errorf("download the outputs: %w", err)
	}
	fmt.Fprintf(log, "[kubernetes] outputs: %v\n", names)
	res, err := exec.ReadOutputs(req.OutDir, req)
	if err != nil {
		fmt.Fprintf(log, "[kubernetes] outputs refused: %v\n", err)
		return runner.Result{}, err
	}
	return res, nil
}

// finished reports whether the Job has ended and whether it succeeded.
func finished(j *batchv1.Job) (done, ok bool) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, true
		case batchv1.JobFailed:
			return true, false
		}
	}
	return false, false
}

// unpullable are the waiting reasons of a container whose image will not
// come: the Job would wait for its deadline.
var unpullable = []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"}

// wait watches the Job until it has finished, and reads it (and its pods)
// every PollInterval too, in case the watch misses the change. It returns
// an *exec.Error when ctx ends, or a pod's image cannot be pulled.
func (r *Runner) wait(ctx context.Context, name string) (*batchv1.Job, error) {
	jobs := r.client.BatchV1().Jobs(r.cfg.Namespace)
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	for {
		j, err := jobs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return nil, stopped(ctx)
			}
			return nil, fmt.Errorf("get job %s: %w", name, err)
		}
		if done, _ := finished(j); done {
			return j, nil
		}
		if err := r.checkPods(ctx, name); err != nil {
			return nil, err
		}
		w, err := jobs.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: j.ResourceVersion,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, stopped(ctx)
			}
			return nil, fmt.Errorf("watch job %s: %w", name, err)
		}
		j, err = r.watch(ctx, w.ResultChan(), tick.C, name)
		w.Stop()
		if err != nil || j != nil {
			return j, err
		}
	}
}

// watch reads events until the Job has finished (it returns it), the
// watch ends or the ticker fires (nil, nil: read it again).
func (r *Runner) watch(ctx context.Context, events <-chan watch.Event, tick <-chan time.Time, name string) (*batchv1.Job, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, stopped(ctx)
		case <-tick:
			return nil, nil
		case ev, ok := <-events:
			if !ok {
				return nil, nil
			}
			if j, isJob := ev.Object.(*batchv1.Job); isJob && j.Name == name {
				if done, _ := finished(j); done {
					return j, nil
				}
			}
		}
	}
}

func stopped(ctx context.Context) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, context.DeadlineExceeded) {
		return &exec.Error{Reason: exec.ReasonDeadline, Detail: "the Job was still running at the job's deadline: deleted", Err: cause}
	}
	return &exec.Error{Reason: exec.ReasonCanceled, Detail: "the trainer stopped: the Job is deleted", Err: cause}
}

func (r *Runner) pods(ctx context.Context, name string) ([]corev1.Pod, error) {
	sel := labels.SelectorFromSet(labels.Set{"job-name": name}).String()
	list, err := r.client.CoreV1().Pods(r.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list the pods of job %s: %w", name, err)
	}
	return list.Items, nil
}

// checkPods fails a run whose pod waits for an image that will not come.
func (r *Runner) checkPods(ctx context.Context, name string) error {
	pods, err := r.pods(ctx, name)
	if err != nil {
		return nil // the watch goes on; the next read may work
	}
	for _, p := range pods {
		for _, s := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
			if w := s.State.Waiting; w != nil && slices.Contains(unpullable, w.Reason) {
				return &exec.Error{Reason: exec.ReasonStart, Detail: fmt.Sprintf("pod %s, container %s: %s: %s", p.Name, s.Name, w.Reason, w.Message)}
			}
		}
	}
	return nil
}

// failure says why a finished Job failed, nil when it succeeded.
func (r *Runner) failure(ctx context.Context, j *batchv1.Job) error {
	if _, ok := finished(j); ok {
		return nil
	}
	var cond batchv1.JobCondition
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			cond = c
		}
	}
	if cond.Reason == batchv1.JobReasonDeadlineExceeded {
		return &exec.Error{Reason: exec.ReasonDeadline, Detail: fmt.Sprintf("the Job passed its activeDeadlineSeconds: %s", cond.Message), Err: context.DeadlineExceeded}
	}
	detail := fmt.Sprintf("the Job failed (%s: %s)", cond.Reason, cond.Message)
	pods, _ := r.pods(ctx, j.Name)
	for _, p := range pods {
		for _, s := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
			t := s.State.Terminated
			if t == nil || t.ExitCode == 0 {
				continue
			}
			how := fmt.Sprintf("container %s exited with code %d", s.Name, t.ExitCode)
			if t.Reason != "" && t.Reason != "Error" {
				how += " (" + t.Reason + ")"
			}
			if t.Message != "" {
				how += ": " + t.Message
			}
			if s.Name != ContainerTrain {
				// The helpers failing is the platform's problem (the object
				// store unreachable from the pod), not the code's: retryable.
				return fmt.Errorf("job %s: %s", j.Name, how)
			}
			return &exec.Error{Reason: exec.ReasonExit, Detail: detail + "; " + how}
		}
	}
	// No container failed: the pod was evicted, preempted or lost with
	// its node. Running it again may well work.
	why := ""
	for _, p := range pods {
		if p.Status.Reason != "" {
			why += fmt.Sprintf("; pod %s: %s %s", p.Name, p.Status.Reason, p.Status.Message)
		}
	}
	return fmt.Errorf("job %s: %s, with no container exiting non-zero%s", j.Name, detail, why)
}

// writeLogs copies the logs of the Job's pods' containers into log.
func (r *Runner) writeLogs(ctx context.Context, name string, log io.Writer) {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	pods, err := r.pods(ctx, name)
	if err != nil {
		fmt.Fprintf(log, "[kubernetes] no pod logs: %v\n", err)
		return
	}
	for _, p := range pods {
		for _, c := range []string{ContainerFetch, ContainerTrain, ContainerUpload} {
			limit := r.cfg.MaxLogBytes
			s, err := r.client.CoreV1().Pods(r.cfg.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: c, LimitBytes: &limit}).Stream(ctx)
			if err != nil {
				fmt.Fprintf(log, "[kubernetes] pod %s container %s: no log: %v\n", p.Name, c, err)
				continue
			}
			var buf bytes.Buffer
			_, err = io.Copy(&buf, s)
			s.Close()
			fmt.Fprintf(log, "[kubernetes] pod %s container %s:\n", p.Name, c)
			log.Write(buf.Bytes())
			if buf.Len() > 0 && buf.Bytes()[buf.Len()-1] != '\n' {
				fmt.Fprintln(log)
			}
			if err != nil {
				fmt.Fprintf(log, "[kubernetes] pod %s container %s: log cut: %v\n", p.Name, c, err)
			}
		}
	}
}

// cleanup deletes the Job (and its pods) and the run's objects.
func (r *Runner) cleanup(ctx context.Context, name, prefix string, log io.Writer) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	bg := metav1.DeletePropagationBackground
	err := r.client.BatchV1().Jobs(r.cfg.Namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		fmt.Fprintf(log, "[kubernetes] delete job %s: %v (its ttlSecondsAfterFinished removes it)\n", name, err)
	}
	objs, err := listPrefix(ctx, r.store, prefix)
	if err != nil {
		fmt.Fprintf(log, "[kubernetes] delete the run's objects: %v\n", err)
		return
	}
	for _, o := range objs {
		if err := r.store.Delete(ctx, o); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			fmt.Fprintf(log, "[kubernetes] delete object %s: %v\n", o, err)
		}
	}
}
