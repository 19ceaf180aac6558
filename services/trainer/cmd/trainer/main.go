// Command trainer runs Tributary's trainer service, which runs training jobs and proposes candidate models.
// See services/trainer/README.md for its API, events, flags and metrics.
package main

import (
	"context"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/services/trainer/internal/app"
)

func main() { service.Main(program()) }

func program() service.Program {
	var cfg app.Config
	return service.Program{
		Name:     "trainer",
		HTTPAddr: ":8083",
		Config:   &cfg,
		New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
			return app.New(ctx, cfg, rt)
		},
	}
}
