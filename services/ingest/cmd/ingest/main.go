// Command ingest runs Tributary's ingest service, which validates producer events and writes them to Kafka.
// See services/ingest/README.md for its API, events, flags and metrics.
package main

import (
	"context"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/services/ingest/internal/app"
)

func main() { service.Main(program()) }

func program() service.Program {
	var cfg app.Config
	return service.Program{
		Name:     "ingest",
		HTTPAddr: ":8081",
		Config:   &cfg,
		New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
			return app.New(ctx, cfg, rt)
		},
	}
}
