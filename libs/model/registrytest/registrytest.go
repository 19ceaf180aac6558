// Package registrytest runs the real registry service for the tests of its
// clients: its binary, built once per test binary from the workspace, on an
// embedded nats-server with JetStream of the test's own.
package registrytest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx/natstest"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// Registry is a running registry and a connection to its NATS server.
type Registry struct {
	// NATSURL is the embedded nats-server's client URL, for the service
	// under test.
	NATSURL string
	NC      *nats.Conn
	JS      jetstream.JetStream
	// Client is a registry client that has had an answer.
	Client *model.Client
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Start starts the nats-server and the registry, and waits until the
// registry answers. Both stop at the end of the test; the registry's logs
// are printed when the test failed. It skips the test under -short.
func Start(t testing.TB) *Registry {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and starts the registry")
	}
	bin := build(t)
	url := natstest.Start(t).ClientURL()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-nats.url", url, "-http.addr", fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)), "-log.level", "warn")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start the registry: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("registry logs:\n%s", logs.String())
		}
	})

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c := model.NewClient(nc, js, model.WithTimeout(5*time.Second))
	testkit.EventuallyContext(t, 60*time.Second, func(ctx context.Context) error {
		_, err := c.Models(ctx)
		return err
	})
	return &Registry{NATSURL: url, NC: nc, JS: js, Client: c}
}

// build builds ./services/registry/cmd/registry of the workspace the test
// runs in, once per test binary, into one place shared by every test run
// (os.TempDir()/tributary-registrytest/registry): a build of its own goes to
// a file of this process first and is renamed over it, so concurrent test
// binaries never run a half-written file and nothing piles up.
func build(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := testkit.WorkspaceRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir := filepath.Join(os.TempDir(), "tributary-registrytest")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "registry")
		own := fmt.Sprintf("%s.%d", binary, os.Getpid())
		cmd := exec.Command("go", "build", "-o", own, "./services/registry/cmd/registry")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			_ = os.Remove(own)
			buildErr = fmt.Errorf("build the registry: %v\n%s", err, out)
			return
		}
		buildErr = os.Rename(own, binary)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}
