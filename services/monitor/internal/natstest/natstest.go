// Package natstest starts an embedded nats-server with JetStream and the
// platform's stream and buckets, for the monitor's tests.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/natsx/natstest"
)

// JetStream starts the server in t.TempDir(), bootstraps the platform's
// resources on it and returns a JetStream client.
func JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(natstest.Start(t).ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := natsx.Bootstrap(ctx, js, natsx.BootstrapConfig{Replicas: 1, Storage: "memory", KVHistory: 1}); err != nil {
		t.Fatal(err)
	}
	return js
}
