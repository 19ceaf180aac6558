package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn/modelfile"
)

const requirementsFile = "../../../../deploy/local/python/requirements.txt"

// python returns the repository venv's interpreter (TRIBUTARY_PYTHON, made
// by `make pyenv`), checked to have the pinned tritonclient.
func python(t *testing.T) string {
	t.Helper()
	py := os.Getenv("TRIBUTARY_PYTHON")
	if py == "" {
		if testing.Short() {
			t.Skip("TRIBUTARY_PYTHON is not set; skipped with -short")
		}
		t.Fatal("TRIBUTARY_PYTHON is not set: run `make pyenv` (it builds the venv from deploy/local/python/requirements.txt) and run the tests with `make test`, or export TRIBUTARY_PYTHON=<venv>/bin/python")
	}
	req, err := os.ReadFile(requirementsFile)
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, l := range strings.Split(string(req), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "tritonclient=="); ok {
			want = v
		}
	}
	if want == "" {
		t.Fatalf("%s pins no tritonclient", requirementsFile)
	}
	out, err := exec.Command(py, "-c", "import importlib.metadata as m; print(m.version('tritonclient'))").CombinedOutput()
	if err != nil {
		t.Fatalf("TRIBUTARY_PYTHON=%s has no tritonclient (run `make pyenv`): %v\n%s", py, err, out)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("TRIBUTARY_PYTHON=%s has tritonclient %s, %s pins %s: run `make pyenv`", py, got, requirementsFile, want)
	}
	return py
}

// TestOIPWithTritonClient drives the Open Inference Protocol API with
// tritonclient's HTTP client: health, metadata, infer with the binary
// tensor extension and with JSON data, and the protocol's error answers.
func TestOIPWithTritonClient(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Python venv, nats-server and the registry")
	}
	py := python(t)
	s := startStack(t)
	name := "oip-" + randomID()
	refs := []string{"req:a", "req:b"}
	v := s.register(t, name, "tributary", refs, nil, ridgeModel(t, []string{"a", "b"}, 100))
	s.move(t, name, "production", v.Version, nil)
	p := startServing(t, s, "-serving.online-features=false")
	servedVersion(t, p, name, "production", v.Version)

	out, err := exec.Command(py, "testdata/oip_client.py", strings.TrimPrefix(p.URL, "http://"), name, strconv.Itoa(v.Version)).CombinedOutput()
	if err != nil {
		t.Fatalf("oip_client.py: %v\n%s", err, out)
	}
	var r struct {
		Live, Ready  bool
		ModelReady   bool `json:"model_ready"`
		VersionReady bool `json:"version_ready"`
		Server       struct {
			Name string `json:"name"`
		} `json:"server"`
		Metadata struct {
			Name   string `json:"name"`
			Inputs []struct {
				Name     string  `json:"name"`
				Datatype string  `json:"datatype"`
				Shape    []int64 `json:"shape"`
			} `json:"inputs"`
		} `json:"metadata"`
		Binary        []float64 `json:"binary"`
		BinaryVersion string    `json:"binary_version"`
		JSON          []float64 `json:"json"`
		Errors        map[string]*struct {
			Status, Message string
		} `json:"errors"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("report %s: %v", out, err)
	}
	if !r.Live || !r.Ready || !r.ModelReady || !r.VersionReady || r.Server.Name != "tributary-serving" {
		t.Errorf("health and readiness: %s", out)
	}
	if r.Metadata.Name != name || len(r.Metadata.Inputs) != 1 || r.Metadata.Inputs[0].Shape[1] != 2 {
		t.Errorf("metadata: %+v", r.Metadata)
	}
	near := func(got []float64, want ...float64) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-6 {
				return false
			}
		}
		return true
	}
	if !near(r.Binary, 103, 107) || r.BinaryVersion != strconv.Itoa(v.Version) {
		t.Errorf("binary FP32 infer: %v from version %s, want [103 107] from %d", r.Binary, r.BinaryVersion, v.Version)
	}
	if !near(r.JSON, 111) {
		t.Errorf("JSON INT64 infer per feature: %v, want [111]", r.JSON)
	}
	for name, want := range map[string]string{"unknown_model": "not served", "bad_shape": "shape", "bytes": "BYTES"} {
		e := r.Errors[name]
		if e == nil || !strings.Contains(e.Message, want) {
			t.Errorf("%s: %+v, want an error naming %q", name, e, want)
		}
	}
	t.Logf("tritonclient report: %s", out)
}

// TestOIPBytesWithTritonClient: tritonclient's BYTES tensors (binary and
// JSON) of a categorical feature reach the model as its vocabulary's
// codes: the predictions equal those of the codes, an unseen category
// takes the other code.
func TestOIPBytesWithTritonClient(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Python venv, nats-server and the registry")
	}
	py := python(t)
	s := startStack(t)
	name := "oipcat-" + randomID()
	raw, err := os.ReadFile("../../../../libs/learn/modelfile/testdata/logistic_categorical.v2.json")
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := modelfile.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	v := s.register(t, name, "tributary", []string{"txn:amount", "txn:merchant"}, nil, raw)
	s.move(t, name, "production", v.Version, nil)
	p := startServing(t, s, "-serving.online-features=false")
	servedVersion(t, p, name, "production", v.Version)
	out, err := exec.Command(py, "testdata/oip_bytes.py", strings.TrimPrefix(p.URL, "http://"), name).CombinedOutput()
	if err != nil {
		t.Fatalf("oip_bytes.py: %v\n%s", err, out)
	}
	var r struct {
		Metadata struct {
			Inputs []struct{ Name, Datatype string } `json:"inputs"`
		} `json:"metadata"`
		Binary, JSON []float64
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("report %s: %v", out, err)
	}
	// grocery 0, travel 1, games 2, other 3.
	var want []float64
	for _, row := range [][]float64{{5, 1}, {5, 0}, {2, 3}} {
		o := make([]float64, 1)
		m.Predict(row, o)
		want = append(want, o[0])
	}
	for name, got := range map[string][]float64{"binary": r.Binary, "json": r.JSON} {
		if len(got) != 3 || math.Abs(got[0]-want[0]) > 1e-12 || math.Abs(got[1]-want[1]) > 1e-12 || math.Abs(got[2]-want[2]) > 1e-12 {
			t.Errorf("%s BYTES: %v, want %v", name, got, want)
		}
	}
	if len(r.Metadata.Inputs) != 2 || r.Metadata.Inputs[1].Datatype != "BYTES" {
		t.Errorf("metadata inputs %+v", r.Metadata.Inputs)
	}
	t.Logf("tritonclient BYTES report: %s", out)
}
