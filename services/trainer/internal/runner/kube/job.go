package kube

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner/exec"
)

// Paths inside the Job's pod: one emptyDir shared by its containers.
const (
	workDir     = "/tributary"
	podTrain    = workDir + "/in/" + ObjectTrain
	podHoldout  = workDir + "/in/" + ObjectHoldout
	podOutput   = workDir + "/out"
	credsDir    = "/var/run/tributary/nats"
	credsFile   = "nats.creds"
	volumeWork  = "work"
	volumeCreds = "nats-creds"
)

// Names of the pod's containers, in the order they run: fetch and train are
// init containers, upload the pod's container.
const (
	ContainerFetch  = "fetch"
	ContainerTrain  = "train"
	ContainerUpload = "upload"
)

// Labels and annotations of the Jobs the runner makes.
const (
	LabelManagedBy      = "app.kubernetes.io/managed-by"
	ManagedBy           = "tributary-trainer"
	LabelRunID          = "tributary.dev/run-id"
	AnnotationModel     = "tributary.dev/model"
	AnnotationJobID     = "tributary.dev/job-id"
	AnnotationCommand   = "tributary.dev/command"
	resourceParamPrefix = "k8s."
)

// resourceParams are the parameters that set the train container's
// resources (and are not passed to the code).
var resourceParams = map[string]struct {
	limit bool
	name  corev1.ResourceName
}{
	"k8s.requests.cpu":               {false, corev1.ResourceCPU},
	"k8s.requests.memory":            {false, corev1.ResourceMemory},
	"k8s.requests.ephemeral-storage": {false, corev1.ResourceEphemeralStorage},
	"k8s.limits.cpu":                 {true, corev1.ResourceCPU},
	"k8s.limits.memory":              {true, corev1.ResourceMemory},
	"k8s.limits.ephemeral-storage":   {true, corev1.ResourceEphemeralStorage},
	"k8s.limits.gpu":                 {true, "nvidia.com/gpu"},
}

// resources are the train container's requests and limits: the config's,
// overridden by the k8s.* parameters.
func resources(def corev1.ResourceRequirements, params map[string]string) (corev1.ResourceRequirements, error) {
	out := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	maps.Copy(out.Requests, def.Requests)
	maps.Copy(out.Limits, def.Limits)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if !strings.HasPrefix(k, resourceParamPrefix) {
			continue
		}
		p, ok := resourceParams[k]
		if !ok {
			return out, fmt.Errorf("%w: parameter %s: the kubernetes runner knows %v", runner.ErrBadInput, k, slices.Sorted(maps.Keys(resourceParams)))
		}
		q, err := resource.ParseQuantity(params[k])
		if err != nil {
			return out, fmt.Errorf("%w: parameter %s=%q: %v", runner.ErrBadInput, k, params[k], err)
		}
		if p.limit {
			out.Limits[p.name] = q
		} else {
			out.Requests[p.name] = q
		}
	}
	for name, req := range out.Requests {
		if lim, ok := out.Limits[name]; ok && req.Cmp(lim) > 0 {
			return out, fmt.Errorf("%w: the %s request %s is above its limit %s", runner.ErrBadInput, name, req.String(), lim.String())
		}
	}
	return out, nil
}

// codeParams are the parameters passed to the code: all but k8s.*.
func codeParams(params map[string]string) map[string]string {
	out := make(map[string]string, len(params))
	for k, v := range params {
		if !strings.HasPrefix(k, resourceParamPrefix) {
			out[k] = v
		}
	}
	return out
}

// jobName is the Job's name for a run: a DNS label.
func jobName(runID string) string { return "tributary-train-" + runID }

// buildJob makes the Job of a run.
func (r *Runner) buildJob(req runner.Request, prefix string, deadline int64) (*batchv1.Job, error) {
	res, err := resources(r.cfg.Resources, req.Params)
	if err != nil {
		return nil, err
	}
	codeReq := req
	codeReq.Params = codeParams(req.Params)
	holdout := ""
	if req.HoldoutPath != "" {
		holdout = podHoldout
	}
	contract, err := exec.Env(codeReq, exec.Paths{Train: podTrain, Holdout: holdout, Output: podOutput})
	if err != nil {
		return nil, err
	}
	objEnv := []string{
		EnvNATSURL + "=" + r.cfg.NATSURL,
		EnvObjectBucket + "=" + r.cfg.Bucket,
		EnvObjectPrefix + "=" + prefix,
	}
	volumes := []corev1.Volume{{Name: volumeWork, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	mounts := []corev1.VolumeMount{{Name: volumeWork, MountPath: workDir}}
	helperMounts := mounts
	if r.cfg.NATSCredsSecret != "" {
		objEnv = append(objEnv, EnvNATSCreds+"="+credsDir+"/"+credsFile)
		volumes = append(volumes, corev1.Volume{Name: volumeCreds, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: r.cfg.NATSCredsSecret,
			Items:      []corev1.KeyToPath{{Key: r.cfg.NATSCredsKey, Path: credsFile}},
		}}})
		helperMounts = append(slices.Clip(mounts), corev1.VolumeMount{Name: volumeCreds, MountPath: credsDir, ReadOnly: true})
	}
	// The training code gets the contract, the request's (MLflow) and the
	// config's extra environment; the helpers the object store's too.
	codeEnv := envVars(mergeEnv(r.cfg.Env, req.Env, contract))
	helperEnv := envVars(mergeEnv(contract, objEnv))
	helperRes := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
	}
	helper := func(name, step string) corev1.Container {
		return corev1.Container{
			Name: name, Image: r.cfg.HelperImage, Command: append(slices.Clip(r.cfg.HelperCommand), step),
			Env: helperEnv, VolumeMounts: helperMounts, Resources: helperRes,
		}
	}
	backoff := int32(0)
	ttl := int32(r.cfg.TTLAfterFinished.Seconds())
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:      jobName(req.RunID),
			Namespace: r.cfg.Namespace,
			Labels:    map[string]string{LabelManagedBy: ManagedBy, LabelRunID: req.RunID},
			Annotations: map[string]string{
				AnnotationModel:   req.Model,
				AnnotationJobID:   req.JobID,
				AnnotationCommand: strings.Join(req.Command, " "),
			},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:            &backoff,
			ActiveDeadlineSeconds:   &deadline,
			TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelManagedBy: ManagedBy, LabelRunID: req.RunID}},
				Spec: corev1.PodSpec{
					RestartPolicy:      corev1.RestartPolicyNever,
					ServiceAccountName: r.cfg.ServiceAccount,
					Volumes:            volumes,
					InitContainers: []corev1.Container{
						helper(ContainerFetch, "fetch"),
						{
							Name: ContainerTrain, Image: req.Image, Command: req.Command,
							WorkingDir: podOutput, Env: codeEnv, VolumeMounts: mounts, Resources: res,
						},
					},
					Containers: []corev1.Container{helper(ContainerUpload, "upload")},
				},
			},
		},
	}
	return job, nil
}

func envVars(kvs []string) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(kvs))
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, corev1.EnvVar{Name: k, Value: v})
	}
	return out
}

// mergeEnv returns the variables of the lists, later ones winning.
func mergeEnv(lists ...[]string) []string {
	idx := map[string]int{}
	var out []string
	for _, l := range lists {
		for _, kv := range l {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[k]; ok {
				out[i] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}
