package kube

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// FlagConfig is Config as flags, with the client's: the kubernetes runner
// is enabled when a namespace is set.
type FlagConfig struct {
	Config
	// Kubeconfig is a kubeconfig file; empty means in-cluster (the
	// trainer's service account).
	Kubeconfig string
	// Requests and Limits are the train container's defaults,
	// name=quantity lists (cpu=1,memory=2Gi).
	Requests, Limits string
}

// RegisterFlags registers the kubernetes runner's flags.
func (c *FlagConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Namespace, "kubernetes.namespace", "", "Kubernetes runner: the namespace of the training Jobs; empty disables the runner.")
	fs.StringVar(&c.Kubeconfig, "kubernetes.kubeconfig", "", "Kubernetes runner: a kubeconfig file (default: in-cluster, the trainer's service account).")
	fs.StringVar(&c.HelperImage, "kubernetes.helper-image", "", "Kubernetes runner: the image with /tributary-runner for the Jobs' fetch and upload containers (the trainer's image).")
	fs.StringVar(&c.NATSURL, "kubernetes.nats-url", "", "Kubernetes runner: the NATS URL as the Jobs' pods reach it.")
	fs.StringVar(&c.NATSCredsSecret, "kubernetes.nats-creds-secret", "", "Kubernetes runner: a Secret with the NATS credentials file for the Jobs' helpers.")
	fs.StringVar(&c.NATSCredsKey, "kubernetes.nats-creds-key", credsFile, "Kubernetes runner: the key of the credentials file in -kubernetes.nats-creds-secret.")
	fs.StringVar(&c.ServiceAccount, "kubernetes.service-account", "", "Kubernetes runner: the Jobs' service account (default: the namespace's default).")
	fs.StringVar(&c.Requests, "kubernetes.requests", "", "Kubernetes runner: the train container's default resource requests, name=quantity,... (cpu=1,memory=2Gi).")
	fs.StringVar(&c.Limits, "kubernetes.limits", "", "Kubernetes runner: the train container's default resource limits, name=quantity,... (memory=4Gi).")
	fs.DurationVar(&c.Deadline, "kubernetes.deadline", time.Hour, "Kubernetes runner: a Job's activeDeadlineSeconds when its training job has no deadline.")
	fs.DurationVar(&c.TTLAfterFinished, "kubernetes.ttl-after-finished", time.Hour, "Kubernetes runner: the Jobs' ttlSecondsAfterFinished (removes a Job the trainer could not delete).")
	fs.DurationVar(&c.PollInterval, "kubernetes.poll-interval", 10*time.Second, "Kubernetes runner: how often a Job is read besides the watch.")
}

// Enabled reports whether the kubernetes runner is configured.
func (c *FlagConfig) Enabled() bool { return c.Namespace != "" }

// Validate checks the configuration (when enabled) and fills in
// Config.Resources.
func (c *FlagConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	if c.HelperImage == "" {
		return errors.New("kubernetes.helper-image is required with kubernetes.namespace")
	}
	if c.NATSURL == "" {
		return errors.New("kubernetes.nats-url is required with kubernetes.namespace")
	}
	req, err := quantities("kubernetes.requests", c.Requests)
	if err != nil {
		return err
	}
	lim, err := quantities("kubernetes.limits", c.Limits)
	if err != nil {
		return err
	}
	c.Resources = corev1.ResourceRequirements{Requests: req, Limits: lim}
	return nil
}

func quantities(flagName, s string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s: %q is not name=quantity", flagName, kv)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s=%q: %v", flagName, k, v, err)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}

// Client makes the Kubernetes client: from the kubeconfig file, or
// in-cluster when there is none.
func (c *FlagConfig) Client() (kubernetes.Interface, error) {
	var rc *rest.Config
	var err error
	if c.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w", err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}
