// Package runstest holds the fixtures of the run store's tests: an embedded
// nats-server with JetStream in a temporary directory, bootstrapped with the
// platform's resources, and a store opened on it.
package runstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/natsx/natstest"
	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
)

// JetStream starts an embedded nats-server with JetStream (maxPayload 0:
// the server's default), bootstraps the platform's resources on it and
// returns a JetStream context; everything stops at the end of the test.
func JetStream(t testing.TB, maxPayload int32) jetstream.JetStream {
	t.Helper()
	srv := natstest.Start(t, func(o *server.Options) { o.MaxPayload = maxPayload })
	nc, err := nats.Connect(srv.ClientURL(), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect to the embedded nats-server: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := natsx.Bootstrap(ctx, js, natsx.BootstrapConfig{Replicas: 1, Storage: "file", KVHistory: 8}); err != nil {
		t.Fatalf("bootstrap jetstream: %v", err)
	}
	return js
}

// Store opens a run store on js.
func Store(t testing.TB, js jetstream.JetStream, opts ...runs.Option) *runs.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := runs.Open(ctx, js, "", opts...)
	if err != nil {
		t.Fatalf("open run store: %v", err)
	}
	return st
}
