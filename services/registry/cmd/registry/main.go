// Command registry runs Tributary's registry service, which stores model versions, lineage, artifacts and aliases.
// See services/registry/README.md for its API, events, flags and metrics.
package main

import (
	"context"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/services/registry/internal/app"
)

func main() { service.Main(program()) }

func program() service.Program {
	var cfg app.Config
	return service.Program{
		Name:     "registry",
		HTTPAddr: ":8084",
		Config:   &cfg,
		New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
			return app.New(ctx, cfg, rt)
		},
	}
}
