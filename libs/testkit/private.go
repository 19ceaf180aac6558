package testkit

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// PrivateKafka is a Kafka broker of one test alone, started with the
// workspace's deploy/local/infra.sh on free ports and a data directory of
// its own, so that the test may stop and start it: never the shared broker.
type PrivateKafka struct {
	// Addr is the broker's host:port.
	Addr string

	t      testing.TB
	script string
	env    []string
}

// StartPrivateKafka starts the broker and stops it at the end of the test.
// It skips the test under -short.
func StartPrivateKafka(t testing.TB) *PrivateKafka {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Kafka broker of its own")
	}
	root, err := WorkspaceRoot()
	if err != nil {
		t.Fatal(err)
	}
	port, controller := FreePort(t), FreePort(t)
	k := &PrivateKafka{
		Addr:   fmt.Sprintf("127.0.0.1:%d", port),
		t:      t,
		script: filepath.Join(root, "deploy", "local", "infra.sh"),
		env: append(os.Environ(),
			"TRIBUTARY_DATA_DIR="+t.TempDir(),
			"TRIBUTARY_KAFKA_PORT="+strconv.Itoa(port),
			"TRIBUTARY_KAFKA_CONTROLLER_PORT="+strconv.Itoa(controller),
		),
	}
	k.Start()
	t.Cleanup(k.Stop)
	return k
}

// Start starts the broker again after Stop (its data kept) and waits until
// it is ready.
func (k *PrivateKafka) Start() { k.t.Helper(); k.infra("up") }

// Stop stops the broker.
func (k *PrivateKafka) Stop() { k.t.Helper(); k.infra("down") }

func (k *PrivateKafka) infra(action string) {
	k.t.Helper()
	cmd := exec.Command(k.script, action, "kafka")
	cmd.Env = k.env
	if out, err := cmd.CombinedOutput(); err != nil {
		k.t.Fatalf("infra.sh %s kafka: %v\n%s", action, err, out)
	}
}

// WorkspaceRoot is the nearest directory above the working directory (a
// test's package directory) that holds go.work: the repository's root.
func WorkspaceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory")
		}
		dir = parent
	}
}

// FreePort is a TCP port of 127.0.0.1 that nothing listened on a moment
// ago, for a server the test starts.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
