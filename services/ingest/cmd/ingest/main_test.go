package main

import (
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
	if got := program().HTTPAddr; got != ":8081" {
		t.Errorf("default HTTP address %q, want :8081", got)
	}
	servicetest.CheckDockerfile(t, "../../../..", "ingest", "8081")
}

// TestStartReadyStop runs the service against the real infrastructure: it
// becomes ready with a passing check per dependency, and SIGTERM stops it
// cleanly.
func TestStartReadyStop(t *testing.T) {
	servicetest.RequireServers(t, "kafka", "nats")
	p := servicetest.Start(t, program())
	p.WaitReady(30 * time.Second)
	checks := p.Checks()
	for _, name := range []string{"kafka", "nats", "bootstrap", "streams"} {
		if e, ok := checks[name]; !ok || e != "" {
			t.Errorf("readiness check %s: present %v, error %q", name, ok, e)
		}
	}
	if len(checks) != 4 {
		t.Errorf("unexpected readiness checks: %v", checks)
	}
	code, body := p.Get("/metrics")
	for _, name := range []string{"tributary_ingest_producer_buffer_fill_ratio", "tributary_ingest_producer_buffered_records", "tributary_ingest_streams", "tributary_ingest_http_in_flight_requests", "tributary_ingest_dedup_entries"} {
		if code != 200 || !strings.Contains(string(body), name) {
			t.Errorf("/metrics (%d) has no %s", code, name)
		}
	}
	// Without keys (none configured, auth not disabled) every request is refused.
	if code, _ := p.Get("/v1/streams"); code != 401 {
		t.Errorf("GET /v1/streams without keys: %d, want 401", code)
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
}
