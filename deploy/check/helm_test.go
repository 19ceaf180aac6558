package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// HelmVersion is the helm the Makefile installs into the tools cache
// (helm-<version>); TRIBUTARY_HELM names another binary.
const HelmVersion = "v3.22.0"

// KubeVersion is the Kubernetes release the chart is rendered for (helm
// template's own default, 1.20, is below the chart's kubeVersion); the API
// types are k8s.io/api v0.37's.
const KubeVersion = "1.33.0"

func helmBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TRIBUTARY_HELM"); p != "" {
		return p
	}
	cache := os.Getenv("TRIBUTARY_CACHE_DIR")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatal(err)
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "tributary")
	}
	p := filepath.Join(cache, "tools", "helm-"+HelmVersion)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no helm %s at %s: make tools installs it (or set TRIBUTARY_HELM): %v", HelmVersion, p, err)
	}
	return p
}

func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	// No repositories, plugins or kube config of the user's.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home, "KUBECONFIG="+filepath.Join(home, "none"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.Bytes()
}

// The value sets the chart is checked with, and their golden files.
var valueSets = []struct {
	name   string
	values []string // -f files, relative to the chart
	golden string
}{
	{"default", nil, "testdata/helm-default.yaml"},
	{"production", []string{"examples/values-production.yaml"}, "testdata/helm-production.yaml"},
}

func chartDir(t *testing.T) string {
	return filepath.Join(repoRoot(t), "deploy", "helm", "tributary")
}

func TestHelmLint(t *testing.T) {
	chart := chartDir(t)
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			args := []string{"lint", "--strict", chart}
			for _, f := range vs.values {
				args = append(args, "-f", filepath.Join(chart, f))
			}
			helm(t, args...)
		})
	}
}

// object is one rendered manifest, decoded strictly into its API type.
type object struct {
	kind, name string
	typed      any
}

func render(t *testing.T, values []string, set ...string) ([]byte, []object) {
	t.Helper()
	chart := chartDir(t)
	args := []string{"template", "tributary", chart, "--namespace", "tributary", "--kube-version", KubeVersion}
	for _, f := range values {
		args = append(args, "-f", filepath.Join(chart, f))
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out := helm(t, args...)
	objs, err := decodeAll(out)
	if err != nil {
		t.Fatal(err)
	}
	return out, objs
}

// newTyped returns the Go type of an apiVersion and kind.
func newTyped(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	case "rbac.authorization.k8s.io/v1 Role":
		return &rbacv1.Role{}, nil
	case "rbac.authorization.k8s.io/v1 RoleBinding":
		return &rbacv1.RoleBinding{}, nil
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &serviceMonitor{}, nil
	}
	return nil, fmt.Errorf("no Go type for %s %s: add it to newTyped", apiVersion, kind)
}

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) that the chart renders; k8s.io/api has no type
// for it, and a field the chart sets beyond these fails the strict decode.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// decodeAll splits helm template's output into documents and decodes each
// into its API type, refusing unknown fields.
func decodeAll(out []byte) ([]object, error) {
	var objs []object
	for i, doc := range strings.Split("\n"+string(out), "\n---") {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		js, err := yaml.YAMLToJSONStrict([]byte(doc)) // duplicate keys are errors
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(js, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		typed, err := newTyped(tm.APIVersion, tm.Kind)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(typed); err != nil {
			return nil, fmt.Errorf("%s in document %d: %w\n%s", tm.Kind, i, err, doc)
		}
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		_ = json.Unmarshal(js, &meta)
		objs = append(objs, object{kind: tm.Kind, name: meta.Metadata.Name, typed: typed})
	}
	return objs, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestDecodeAllRefusesUnknownFields(t *testing.T) {
	doc := []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  prots: []\n")
	if _, err := decodeAll(doc); err == nil || !strings.Contains(err.Error(), "prots") {
		t.Errorf("a misspelt field: err = %v, want one naming it", err)
	}
	if _, err := decodeAll([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n")); err == nil {
		t.Error("a duplicate key: no error")
	}
	if _, err := decodeAll([]byte("apiVersion: v9\nkind: Thing\n")); err == nil {
		t.Error("an unknown kind: no error")
	}
}

func TestHelmRender(t *testing.T) {
	help, err := LoadHelp(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			out, objs := render(t, vs.values)
			compareGolden(t, vs.golden, out)
			checkObjects(t, objs, help)
		})
	}
}

func byKind[T any](objs []object) map[string]*T {
	m := map[string]*T{}
	for _, o := range objs {
		if v, ok := o.typed.(*T); ok {
			m[o.name] = v
		}
	}
	return m
}

func checkObjects(t *testing.T, objs []object, help map[string]Flags) {
	t.Helper()
	deployments := byKind[appsv1.Deployment](objs)
	configMaps := byKind[corev1.ConfigMap](objs)
	services := byKind[corev1.Service](objs)
	pdbs := byKind[policyv1.PodDisruptionBudget](objs)
	policies := byKind[networkingv1.NetworkPolicy](objs)
	for _, s := range Services {
		name := "tributary-" + s
		d := deployments[name]
		if d == nil {
			t.Errorf("no Deployment %s", name)
			continue
		}
		if services[name] == nil || pdbs[name] == nil || policies[name] == nil {
			t.Errorf("%s: Service %v, PodDisruptionBudget %v, NetworkPolicy %v: want all three", s, services[name] != nil, pdbs[name] != nil, policies[name] != nil)
		}
		pod := d.Spec.Template.Spec
		if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			t.Errorf("%s: pod does not run as non-root", s)
		}
		if len(pod.Containers) != 1 {
			t.Fatalf("%s: %d containers", s, len(pod.Containers))
		}
		c := pod.Containers[0]
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s: container security context %+v is not restricted", s, sc)
		}
		if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
			t.Errorf("%s: liveness is not GET /healthz", s)
		}
		if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
			t.Errorf("%s: readiness is not GET /readyz", s)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: no cpu request or memory limit", s)
		}
		if d.Spec.Template.Annotations["prometheus.io/scrape"] != "true" {
			t.Errorf("%s: no prometheus.io/scrape annotation", s)
		}

		// Every variable and flag the pod gets must be one of the service's.
		var env []string
		for _, e := range c.Env {
			env = append(env, e.Name)
		}
		for _, from := range c.EnvFrom {
			if from.ConfigMapRef == nil {
				continue
			}
			cm := configMaps[from.ConfigMapRef.Name]
			if cm == nil {
				t.Errorf("%s: envFrom names ConfigMap %s, which is not rendered", s, from.ConfigMapRef.Name)
				continue
			}
			for k := range cm.Data {
				env = append(env, k)
			}
		}
		if bad := help[s].Unknown(env, append(slices.Clone(c.Command), c.Args...)); len(bad) > 0 {
			t.Errorf("%s: not flags of the service (see services/%s/README.md): %q", s, s, bad)
		}
		if s == "features" {
			if !hasFieldRef(c.Env, "TRIBUTARY_MATERIALIZER_INSTANCE_ID", "metadata.name") {
				t.Error("features: -materializer.instance-id is not set from the pod name")
			}
		}
	}
}

func hasFieldRef(env []corev1.EnvVar, name, path string) bool {
	for _, e := range env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == path {
			return true
		}
	}
	return false
}

// TestHelmTrainerRunnerRBAC: the Job runner's Role exists only when enabled,
// with exactly the rights the runner needs, bound to the trainer's own
// ServiceAccount.
func TestHelmTrainerRunnerRBAC(t *testing.T) {
	_, objs := render(t, nil)
	if roles := byKind[rbacv1.Role](objs); len(roles) != 0 {
		t.Errorf("default values render Roles %v; the runner's RBAC must be off unless enabled", roles)
	}
	_, objs = render(t, nil, "trainer.kubernetesRunner.enabled=true")
	role := byKind[rbacv1.Role](objs)["tributary-trainer-jobs"]
	if role == nil {
		t.Fatal("no Role tributary-trainer-jobs with the runner enabled")
	}
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"create", "get", "list", "watch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}, Verbs: []string{"get", "list"}},
	}
	if got, _ := json.Marshal(role.Rules); string(got) != mustJSON(want) {
		t.Errorf("rules %s, want %s", got, mustJSON(want))
	}
	rb := byKind[rbacv1.RoleBinding](objs)["tributary-trainer-jobs"]
	if rb == nil || len(rb.Subjects) != 1 || rb.Subjects[0].Name != "tributary-trainer" || rb.Subjects[0].Namespace != "tributary" {
		t.Errorf("RoleBinding %+v: want the ServiceAccount tributary-trainer of the release namespace", rb)
	}
	d := byKind[appsv1.Deployment](objs)
	if sa := d["tributary-trainer"].Spec.Template.Spec.ServiceAccountName; sa != "tributary-trainer" {
		t.Errorf("trainer runs as %q, want tributary-trainer", sa)
	}
	if sa := d["tributary-serving"].Spec.Template.Spec.ServiceAccountName; sa == "tributary-trainer" {
		t.Error("serving runs with the trainer's rights")
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
