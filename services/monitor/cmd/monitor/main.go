// Command monitor runs Tributary's monitor service, which watches predictions for drift and degradation.
// See services/monitor/README.md for its API, events, flags and metrics.
package main

import (
	"context"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/services/monitor/internal/app"
)

func main() { service.Main(program()) }

func program() service.Program {
	var cfg app.Config
	return service.Program{
		Name:     "monitor",
		HTTPAddr: ":8086",
		Config:   &cfg,
		New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
			return app.New(ctx, cfg, rt)
		},
	}
}
