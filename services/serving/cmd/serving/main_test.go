package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
)

// TestHelp keeps testdata/help.txt (the -h output) and the flag table in the
// README in step with the flags; UPDATE_GOLDEN=1 rewrites both.
func TestHelp(t *testing.T) {
	servicetest.CheckHelp(t, program(), "testdata/help.txt", "../../README.md")
}

func TestDockerfile(t *testing.T) {
	if got := program().HTTPAddr; got != ":8085" {
		t.Errorf("default HTTP address %q, want :8085", got)
	}
	servicetest.CheckDockerfile(t, "../../../..", "serving", "8085")
}

// TestStartReadyStop runs the service against the real infrastructure: it
// becomes ready with a passing check per dependency, and SIGTERM stops it
// cleanly.
func TestStartReadyStop(t *testing.T) {
	servicetest.RequireServers(t, "kafka", "nats", "redis")
	p := servicetest.Start(t, program())
	p.WaitReady(30 * time.Second)
	checks := p.Checks()
	for _, name := range []string{"kafka", "nats", "redis", "bootstrap", "models", "definitions"} {
		if e, ok := checks[name]; !ok || e != "" {
			t.Errorf("readiness check %s: present %v, error %q", name, ok, e)
		}
	}
	if len(checks) != 6 {
		t.Errorf("unexpected readiness checks: %v", checks)
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
}

// TestReasonsInREADME keeps the README's error table in step with
// reason.Serving().
func TestReasonsInREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := reason.Serving().Markdown(); !strings.Contains(string(b), want) {
		t.Errorf("README.md lacks the reason table; want:\n%s", want)
	}
	if err := reason.Serving().Validate(); err != nil {
		t.Error(err)
	}
}
