package main

import (
	"bytes"
	"os"
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
	if got := program().HTTPAddr; got != ":8086" {
		t.Errorf("default HTTP address %q, want :8086", got)
	}
	servicetest.CheckDockerfile(t, "../../../..", "monitor", "8086")
}

// TestStartReadyStop runs the service against the real infrastructure: it
// becomes ready with a passing check per dependency, and SIGTERM stops it
// cleanly.
func TestStartReadyStop(t *testing.T) {
	servicetest.RequireServers(t, "kafka", "nats", "clickhouse")
	p := servicetest.Start(t, program())
	p.WaitReady(30 * time.Second)
	checks := p.Checks()
	for _, name := range []string{"kafka", "nats", "clickhouse", "bootstrap"} {
		if e, ok := checks[name]; !ok || e != "" {
			t.Errorf("readiness check %s: present %v, error %q", name, ok, e)
		}
	}
	if len(checks) != 4 {
		t.Errorf("unexpected readiness checks: %v", checks)
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
}

const (
	reasonsBegin = "<!-- reasons:begin (generated from reason.Monitor() by TestReasonsDoc; UPDATE_GOLDEN=1 go test ./cmd/... rewrites it) -->"
	reasonsEnd   = "<!-- reasons:end -->"
)

// TestReasonsDoc keeps the README's table of reasons the Markdown of
// reason.Monitor(); UPDATE_GOLDEN=1 rewrites it.
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
	want.WriteString("\n" + reason.Monitor().Markdown())
	want.Write(readme[end:])
	if os.Getenv(servicetest.UpdateEnv) != "" {
		if err := os.WriteFile(path, want.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(readme, want.Bytes()) {
		t.Errorf("%s: the table of reasons is not reason.Monitor().Markdown(); run UPDATE_GOLDEN=1 go test ./cmd/...", path)
	}
}
