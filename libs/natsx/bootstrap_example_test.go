package natsx_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/natsx"
)

func ExampleBootstrap() {
	nc, err := natsx.Connect(natsx.Config{URL: "nats://127.0.0.1:4222", DialTimeout: 5 * time.Second}, "example", slog.Default())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := natsx.BootstrapConfig{Replicas: 1, StreamMaxAge: 720 * time.Hour, Storage: "file", KVHistory: 64}
	resources, err := natsx.Bootstrap(context.Background(), js, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range resources {
		fmt.Println(r.Kind, r.Name, r.Action)
	}
}
