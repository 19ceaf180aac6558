package kube_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/tributary-ml/tributary/services/trainer/internal/runner/kube"
)

func TestFlagConfig(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ml}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{name: "disabled", args: nil},
		{name: "enabled", args: []string{"-kubernetes.namespace=ml", "-kubernetes.helper-image=tributary/trainer:1", "-kubernetes.nats-url=nats://nats:4222", "-kubernetes.requests=cpu=500m,memory=1Gi", "-kubernetes.limits=memory=2Gi", "-kubernetes.kubeconfig=" + kubeconfig}},
		{name: "no helper image", args: []string{"-kubernetes.namespace=ml", "-kubernetes.nats-url=nats://nats:4222"}, err: "kubernetes.helper-image"},
		{name: "no nats url", args: []string{"-kubernetes.namespace=ml", "-kubernetes.helper-image=x"}, err: "kubernetes.nats-url"},
		{name: "bad quantity", args: []string{"-kubernetes.namespace=ml", "-kubernetes.helper-image=x", "-kubernetes.nats-url=nats://n", "-kubernetes.limits=memory=lots"}, err: "kubernetes.limits: memory"},
		{name: "not a list", args: []string{"-kubernetes.namespace=ml", "-kubernetes.helper-image=x", "-kubernetes.nats-url=nats://n", "-kubernetes.requests=cpu"}, err: `"cpu" is not name=quantity`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c kube.FlagConfig
			fs := flag.NewFlagSet("trainer", flag.ContinueOnError)
			c.RegisterFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.Enabled() {
				return
			}
			if q := c.Resources.Requests[corev1.ResourceCPU]; q.Cmp(resource.MustParse("500m")) != 0 {
				t.Errorf("cpu request %s", q.String())
			}
			if q := c.Resources.Limits[corev1.ResourceMemory]; q.Cmp(resource.MustParse("2Gi")) != 0 {
				t.Errorf("memory limit %s", q.String())
			}
			if _, err := c.Client(); err != nil {
				t.Errorf("client from kubeconfig: %v", err)
			}
		})
	}
	t.Run("in-cluster outside a cluster", func(t *testing.T) {
		t.Setenv("KUBERNETES_SERVICE_HOST", "")
		var c kube.FlagConfig
		if _, err := c.Client(); err == nil {
			t.Error("in-cluster config outside a cluster: no error")
		}
	})
}
