package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/service/servicetest"
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
