package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/model"
)

// fakeRegistry answers the registry's routes the cli uses with canned
// bodies and records what it was asked.
type fakeRegistry struct {
	mu       sync.Mutex
	requests []string
	bodies   []string
	artifact []byte
	badSum   bool
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			body = append(body, []byte(p.FormName()+"="+string(b)+";")...)
		}
	} else {
		body, _ = io.ReadAll(r.Body)
	}
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	switch {
	case r.URL.Path == "/v1/models":
		json.NewEncoder(w).Encode([]model.ModelInfo{{Model: model.Model{Name: "fraud", LatestVersion: 3, CreatedAt: now},
			Aliases: []model.Alias{{Name: "production", Version: 2}}}})
	case r.URL.Path == "/v1/models/missing/versions":
		httperror.Write(w, 404, model.CodeModelNotFound, `model "missing" not found`)
	case r.URL.Path == "/v1/models/behind-proxy/versions":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
	case r.URL.Path == "/v1/models/fraud/versions" && r.Method == "GET":
		json.NewEncoder(w).Encode([]model.Version{{Model: "fraud", Version: 1, Status: model.StatusActive, Format: "linear",
			Artifact: model.Artifact{SHA256: strings.Repeat("a", 64), Size: 9}, Lineage: model.Lineage{Metrics: map[string]float64{"auc": 0.9}}}})
	case r.URL.Path == "/v1/models/fraud/versions" && r.Method == "POST":
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(model.Version{Model: "fraud", Version: 4, Artifact: model.Artifact{SHA256: strings.Repeat("b", 64), Size: 5}})
	case r.URL.Path == "/v1/models/fraud/aliases/canary":
		json.NewEncoder(w).Encode(model.AuditEntry{Model: "fraud", Alias: "canary", ToVersion: 3, Weight: ptr(0.1), Revision: 7})
	case r.URL.Path == "/v1/models/fraud/aliases/shadow" && r.Method == "DELETE":
		json.NewEncoder(w).Encode(model.AuditEntry{Model: "fraud", Alias: "shadow", FromVersion: 2, Deleted: true, Revision: 11})
	case r.URL.Path == "/v1/models/fraud/rollback":
		json.NewEncoder(w).Encode(model.AuditEntry{Model: "fraud", Alias: "production", FromVersion: 3, ToVersion: 2, Rollback: true, Revision: 9})
	case r.URL.Path == "/v1/models/fraud/versions/2/artifact":
		sum := sha256.Sum256(f.artifact)
		if f.badSum {
			sum[0] ^= 1
		}
		w.Header().Set("X-Tributary-Artifact-SHA256", hex.EncodeToString(sum[:]))
		w.Header().Set("X-Tributary-Model-Version", "2")
		w.Write(f.artifact)
	default:
		httperror.Write(w, 404, model.CodeVersionNotFound, "no such thing")
	}
}

func ptr[T any](v T) *T { return &v }

func runModelsCmd(t *testing.T, url string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := func(k string) (string, bool) {
		if k == "TRIBUTARY_REGISTRY_URL" {
			return url, true
		}
		return "", false
	}
	err := models(context.Background(), args, env, http.DefaultClient, &out, &errOut)
	return out.String(), err
}

func TestModelsCommand(t *testing.T) {
	f := &fakeRegistry{artifact: []byte("model weights")}
	srv := httptest.NewServer(f)
	defer srv.Close()

	out, err := runModelsCmd(t, srv.URL, "list")
	if err != nil || !strings.Contains(out, "MODEL") || !strings.Contains(out, "fraud") || !strings.Contains(out, "production=2") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = runModelsCmd(t, srv.URL, "versions", "fraud", "-o", "json")
	var vs []model.Version
	if err != nil || json.Unmarshal([]byte(out), &vs) != nil || len(vs) != 1 || vs[0].Lineage.Metrics["auc"] != 0.9 {
		t.Fatalf("versions -o json: %v\n%s", err, out)
	}
	// Flags after the arguments work, and the body carries them.
	out, err = runModelsCmd(t, srv.URL, "alias", "fraud", "canary", "3", "-weight", "0.1", "-actor", "alice", "-reason", "try it")
	if err != nil || !strings.Contains(out, "moved canary of fraud: - -> 3 (weight 0.1), revision 7") {
		t.Fatalf("alias: %v\n%s", err, out)
	}
	if last := f.bodies[len(f.bodies)-1]; !strings.Contains(last, `"weight":0.1`) || !strings.Contains(last, `"actor":"alice"`) || !strings.Contains(last, `"reason":"try it"`) {
		t.Fatalf("alias body %s", last)
	}
	out, err = runModelsCmd(t, srv.URL, "rollback", "fraud")
	if err != nil || !strings.Contains(out, "rolled back production of fraud: 3 -> 2") {
		t.Fatalf("rollback: %v\n%s", err, out)
	}

	dir := t.TempDir()
	meta := filepath.Join(dir, "meta.json")
	art := filepath.Join(dir, "model.bin")
	os.WriteFile(meta, []byte(`{"format":"linear","lineage":{"trainer":"go"}}`), 0o600)
	os.WriteFile(art, []byte("bytes"), 0o600)
	out, err = runModelsCmd(t, srv.URL, "register", "fraud", "-metadata", meta, "-artifact", art, "-actor", "bob")
	if err != nil || !strings.Contains(out, "registered fraud version 4") {
		t.Fatalf("register: %v\n%s", err, out)
	}
	if last := f.bodies[len(f.bodies)-1]; !strings.Contains(last, `"model":"fraud"`) || !strings.Contains(last, `"actor":"bob"`) || !strings.HasSuffix(last, "artifact=bytes;") {
		t.Fatalf("register body %s", last)
	}

	target := filepath.Join(dir, "out.bin")
	out, err = runModelsCmd(t, srv.URL, "download", "fraud", "2", "-out", target)
	if got, _ := os.ReadFile(target); err != nil || string(got) != "model weights" || !strings.Contains(out, "verified") {
		t.Fatalf("download: %v, %q\n%s", err, got, out)
	}
	f.badSum = true
	bad := filepath.Join(dir, "bad.bin")
	if _, err := runModelsCmd(t, srv.URL, "download", "fraud", "2", "-out", bad); err == nil || !strings.Contains(err.Error(), "not written") {
		t.Fatalf("download with a wrong sha256: %v", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatalf("a download that failed verification was written: %v", err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"versions", "missing"}, `registry: 404 Not Found (model_not_found): model "missing" not found`},
		{[]string{"show", "fraud", "9"}, "registry: 404 Not Found (version_not_found): no such thing"},
		{[]string{"download", "fraud", "9", "-out", filepath.Join(dir, "nine.bin")}, "registry: 404 Not Found (version_not_found): no such thing"},
		{[]string{"versions", "behind-proxy"}, "registry: 502 Bad Gateway: <html><body>502 Bad Gateway</body></html>"},
		{[]string{"nope"}, "unknown subcommand"},
		{[]string{"versions"}, "0 arguments"},
		{[]string{"alias", "fraud", "production", "latest"}, "want a version number"},
		{[]string{"list", "-o", "yaml"}, "want table or json"},
		{[]string{"register", "fraud"}, "-metadata and -artifact are required"},
		{[]string{"list", "-registry.url", "ftp://x"}, "want an http(s) URL"},
	} {
		if _, err := runModelsCmd(t, srv.URL, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
	// A program using the cli's client branches on the reason.
	_, err = runModelsCmd(t, srv.URL, "versions", "missing")
	if !errors.Is(err, &httperror.Error{Status: 404, Body: httperror.Body{Reason: model.CodeModelNotFound}}) {
		t.Errorf("versions of a missing model: %v is not a 404 model_not_found", err)
	}
}

// The metadata file is decoded strictly, as the registry's API decodes it:
// a misspelt field is an error, not a version registered without it.
func TestModelsRegisterStrictMetadata(t *testing.T) {
	f := &fakeRegistry{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	dir := t.TempDir()
	art := filepath.Join(dir, "model.bin")
	os.WriteFile(art, []byte("bytes"), 0o600)
	for _, tc := range []struct{ name, meta, want string }{
		{"misspelt field", `{"format":"linear","lineage":{"trainer":"go","feature_definitons":{"txn":"v1"}}}`, `unknown field "feature_definitons"`},
		{"unknown top-level field", `{"format":"linear","colour":"red"}`, `unknown field "colour"`},
		{"trailing data", `{"format":"linear"} {"format":"onnx"}`, "trailing data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := filepath.Join(dir, "meta.json")
			os.WriteFile(meta, []byte(tc.meta), 0o600)
			_, err := runModelsCmd(t, srv.URL, "register", "fraud", "-metadata", meta, "-artifact", art)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("register: %v, want %q", err, tc.want)
			}
		})
	}
	if len(f.requests) != 0 {
		t.Fatalf("the registry was called: %v", f.requests)
	}
}

// -weight and -expect-revision are sent when given, whatever their value:
// the registry judges them (a negative weight is out of range, not
// missing).
func TestModelsAliasFlags(t *testing.T) {
	f := &fakeRegistry{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	if _, err := runModelsCmd(t, srv.URL, "alias", "fraud", "canary", "3", "-weight", "-0.5"); err != nil {
		t.Fatal(err)
	}
	if last := f.bodies[len(f.bodies)-1]; !strings.Contains(last, `"weight":-0.5`) {
		t.Fatalf("alias body %s, want the weight as given", last)
	}
	if _, err := runModelsCmd(t, srv.URL, "alias", "fraud", "canary", "3", "-weight", "0", "-expect-revision", "0"); err != nil {
		t.Fatal(err)
	}
	if last := f.bodies[len(f.bodies)-1]; !strings.Contains(last, `"weight":0`) || !strings.Contains(last, `"expected_revision":0`) {
		t.Fatalf("alias body %s, want weight 0 and expected_revision 0", last)
	}
	if _, err := runModelsCmd(t, srv.URL, "alias", "fraud", "canary", "3"); err != nil {
		t.Fatal(err)
	}
	if last := f.bodies[len(f.bodies)-1]; strings.Contains(last, "weight") || strings.Contains(last, "expected_revision") {
		t.Fatalf("alias body %s, want neither flag", last)
	}
	if _, err := runModelsCmd(t, srv.URL, "alias", "fraud", "canary", "3", "-expect-revision", "-1"); err == nil {
		t.Fatal("a negative -expect-revision was accepted")
	}
}

func TestModelsDeleteAlias(t *testing.T) {
	f := &fakeRegistry{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	out, err := runModelsCmd(t, srv.URL, "delete-alias", "fraud", "shadow", "-actor", "alice", "-reason", "done", "-expect-revision", "10")
	if err != nil || !strings.Contains(out, "deleted shadow of fraud (was version 2), revision 11") {
		t.Fatalf("delete-alias: %v\n%s", err, out)
	}
	if got := f.requests[len(f.requests)-1]; got != "DELETE /v1/models/fraud/aliases/shadow" {
		t.Fatalf("request %s", got)
	}
	if last := f.bodies[len(f.bodies)-1]; !strings.Contains(last, `"actor":"alice"`) || !strings.Contains(last, `"expected_revision":10`) || !strings.Contains(last, `"reason":"done"`) {
		t.Fatalf("delete-alias body %s", last)
	}
	if _, err := runModelsCmd(t, srv.URL, "delete-alias", "fraud"); err == nil || !strings.Contains(err.Error(), "1 arguments") {
		t.Fatalf("delete-alias without an alias: %v", err)
	}
}
