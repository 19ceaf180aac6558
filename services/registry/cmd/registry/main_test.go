package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
	"github.com/tributary-ml/tributary/services/registry/internal/registrytest"
)

// TestHelp keeps testdata/help.txt (the -h output) and the flag table in the
// README in step with the flags; UPDATE_GOLDEN=1 rewrites both.
func TestHelp(t *testing.T) {
	servicetest.CheckHelp(t, program(), "testdata/help.txt", "../../README.md")
}

// Markers around the generated table of reasons in the README.
const (
	reasonsBegin = "<!-- reasons:begin (generated from reason.Registry() by TestReasonsDoc; UPDATE_GOLDEN=1 go test ./cmd/... rewrites it) -->"
	reasonsEnd   = "<!-- reasons:end -->"
)

// TestReasonsDoc keeps the README's table of reasons the Markdown of
// reason.Registry(); UPDATE_GOLDEN=1 rewrites it.
func TestReasonsDoc(t *testing.T) {
	const path = "../../README.md"
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := bytes.Index(readme, []byte(reasonsBegin)), bytes.Index(readme, []byte(reasonsEnd))
	if begin < 0 || end < begin {
		t.Fatalf("%s has no table of reasons between %q and %q", path, reasonsBegin, reasonsEnd)
	}
	var want bytes.Buffer
	want.Write(readme[:begin+len(reasonsBegin)])
	want.WriteString("\n" + reason.Registry().Markdown())
	want.Write(readme[end:])
	if os.Getenv(servicetest.UpdateEnv) != "" {
		if err := os.WriteFile(path, want.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(readme, want.Bytes()) {
		t.Errorf("%s: the table of reasons is not reason.Registry().Markdown() (run with %s=1 to rewrite it)", path, servicetest.UpdateEnv)
	}
}

func TestDockerfile(t *testing.T) {
	if got := program().HTTPAddr; got != ":8084" {
		t.Errorf("default HTTP address %q, want :8084", got)
	}
	servicetest.CheckDockerfile(t, "../../../..", "registry", "8084")
}

// TestStartReadyStop runs the service against the real infrastructure: it
// becomes ready with a passing check per dependency, and SIGTERM stops it
// cleanly.
func TestStartReadyStop(t *testing.T) {
	servicetest.RequireServers(t, "nats")
	p := servicetest.Start(t, program())
	p.WaitReady(30 * time.Second)
	checks := p.Checks()
	for _, name := range []string{"nats", "bootstrap", "store"} {
		if e, ok := checks[name]; !ok || e != "" {
			t.Errorf("readiness check %s: present %v, error %q", name, ok, e)
		}
	}
	if len(checks) != 3 {
		t.Errorf("unexpected readiness checks: %v", checks)
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
}

// Until NATS is reachable the API answers 503 unavailable, and /readyz
// names the store. Routes that do not exist are the runtime's 404 and 405,
// counted as unmatched. Every error is the envelope of libs/httperror.
func TestAPIUnavailableWithoutNATS(t *testing.T) {
	p := servicetest.Start(t, program(), "-nats.url", "nats://127.0.0.1:1", "-nats.dial-timeout", "100ms")
	e, h := call(t, "GET", p.URL+"/v1/models", http.StatusServiceUnavailable)
	if e.Reason != reason.Unavailable || e.Error != "the registry is not connected to NATS yet" || h.Get("Retry-After") != "1" {
		t.Fatalf("GET /v1/models without NATS: %+v, Retry-After %q", e, h.Get("Retry-After"))
	}
	if e, ok := p.Checks()["store"]; !ok || e == "" {
		t.Fatalf("store readiness check: present %v, error %q", ok, e)
	}
	if e, _ := call(t, "GET", p.URL+"/v1/nothing", http.StatusNotFound); e.Reason != reason.NotFound || e.Error != "no route for GET /v1/nothing" {
		t.Fatalf("GET /v1/nothing: %+v", e)
	}
	e, h = call(t, "PATCH", p.URL+"/v1/models/fraud/aliases/production", http.StatusMethodNotAllowed)
	if e.Reason != reason.MethodNotAllowed || h.Get("Allow") != "DELETE, PUT" || !strings.Contains(e.Error, "allowed: DELETE, PUT") {
		t.Fatalf("PATCH of an alias: %+v, Allow %q", e, h.Get("Allow"))
	}
	code, body := p.Get("/metrics")
	for _, want := range []string{
		`tributary_registry_http_requests_total{code="404",handler="unmatched"} 1`,
		`tributary_registry_http_requests_total{code="405",handler="unmatched"} 1`,
		`tributary_registry_http_requests_total{code="503",handler="GET /v1/models"} 1`,
	} {
		if code != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("metrics: %d, want %s in\n%s", code, want, body)
		}
	}
	if code := p.Stop(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d; logs:\n%s", code, p.Logs())
	}
}

// call sends a request without a body and decodes the error answer, which
// must be the libs/httperror envelope exactly.
func call(t *testing.T, method, url string, wantStatus int) (httperror.Body, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s %s: %d %s %s, want %d application/json", method, url, resp.StatusCode, resp.Header.Get("Content-Type"), body, wantStatus)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var e httperror.Body
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("%s %s: body %s is not the envelope: %v", method, url, body, err)
	}
	return e, resp.Header
}

// A spool file that an upload killed mid-way (kill -9) left in the upload
// directory is removed when the service starts again.
func TestStartCleansSpool(t *testing.T) {
	servicetest.RequireServers(t, "nats")
	dir := t.TempDir()
	stale := filepath.Join(dir, "tributary-registry-upload-4242")
	if err := os.WriteFile(stale, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	p := servicetest.Start(t, program(), "-registry.upload-dir", dir)
	p.WaitReady(30 * time.Second)
	p.WaitLog(10*time.Second, func(r map[string]any) bool { return r["msg"] == "stale upload spool files removed" })
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale spool file after the start: %v", err)
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
}

// The object-store chunks of an upload killed before it stored its object
// are removed when the service starts again. The test runs its own
// nats-server: the sweep must not touch the shared server's uploads.
func TestStartSweepsOrphanedChunks(t *testing.T) {
	srv := registrytest.StartEmbedded(t)
	p := servicetest.Start(t, program(), "-nats.url", srv.URL())
	p.WaitReady(30 * time.Second)
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d; logs:\n%s", code, p.Logs())
	}
	_, js := registrytest.Connect(t, srv.URL())
	ctx := context.Background()
	orphan := "$O." + natsx.ObjectStoreArtifacts + ".C.killedupload0123"
	for i := 0; i < 3; i++ {
		if _, err := js.Publish(ctx, orphan, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	p = servicetest.Start(t, program(), "-nats.url", srv.URL(), "-registry.orphan-chunk-age", "1ms")
	p.WaitReady(30 * time.Second)
	p.WaitLog(10*time.Second, func(r map[string]any) bool { return r["msg"] == "orphaned artifact chunks removed" })
	stream, err := js.Stream(ctx, "OBJ_"+natsx.ObjectStoreArtifacts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(orphan))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Subjects[orphan]; n != 0 {
		t.Fatalf("%d orphaned chunks after the start", n)
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d; logs:\n%s", code, p.Logs())
	}
}
