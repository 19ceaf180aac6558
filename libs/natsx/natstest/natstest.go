// Package natstest runs an embedded nats-server with JetStream for the
// tests that need a server of their own (to restart it, to stop it, or for
// a JetStream account nobody else writes to).
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start starts a server on 127.0.0.1, on a random port, with JetStream
// stored in t.TempDir(), after opts adjusted the options, and waits until it
// accepts connections. It is shut down at the end of the test.
func Start(t testing.TB, opts ...func(*server.Options)) *server.Server {
	t.Helper()
	o := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	for _, f := range opts {
		f(o)
	}
	srv, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("new embedded nats-server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatal("embedded nats-server not ready after 10s")
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}
