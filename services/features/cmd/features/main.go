// Command features runs Tributary's features service, which materializes features online in Redis and offline in ClickHouse.
// See services/features/README.md for its API, events, flags and metrics.
package main

import (
	"context"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/services/features/internal/app"
)

func main() { service.Main(program()) }

func program() service.Program {
	var cfg app.Config
	return service.Program{
		Name:     "features",
		HTTPAddr: ":8082",
		Config:   &cfg,
		New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
			return app.New(ctx, cfg, rt)
		},
	}
}
