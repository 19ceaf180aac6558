package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
	"github.com/tributary-ml/tributary/services/registry/internal/registrytest"
)

// TestHelp keeps testdata/help.txt (the -h output) and the flag table in the
// README in step with the flags; UPDATE_GOLDEN=1 rewrites both.
func TestHelp(t *testing.T) {
	servicetest.CheckHelp(t, program(), "testdata/help.txt", "../../README.md")
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
// names the store.
func TestAPIUnavailableWithoutNATS(t *testing.T) {
	p := servicetest.Start(t, program(), "-nats.url", "nats://127.0.0.1:1", "-nats.dial-timeout", "100ms")
	code, body := p.Get("/v1/models")
	if code != 503 || !strings.Contains(string(body), `"id":"unavailable"`) {
		t.Fatalf("GET /v1/models without NATS: %d %s", code, body)
	}
	if e, ok := p.Checks()["store"]; !ok || e == "" {
		t.Fatalf("store readiness check: present %v, error %q", ok, e)
	}
	// A wrong route is the JSON 404, counted as unmatched.
	if code, body := p.Get("/v1/nothing"); code != 404 || !strings.Contains(string(body), `"id": "not_found"`) {
		t.Fatalf("GET /v1/nothing: %d %s", code, body)
	}
	if code, body := p.Get("/metrics"); code != 200 || !strings.Contains(string(body), `tributary_registry_http_requests_total{code="404",handler="unmatched"} 1`) {
		t.Fatalf("metrics of the unmatched request: %d\n%s", code, body)
	}
	if code := p.Stop(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d; logs:\n%s", code, p.Logs())
	}
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
