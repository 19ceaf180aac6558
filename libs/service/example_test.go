package service_test

import (
	"context"
	"flag"
	"net/http"

	"github.com/tributary-ml/tributary/libs/service"
)

// exampleConfig is an app's configuration: its flags and their validation.
type exampleConfig struct{ greeting string }

func (c *exampleConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.greeting, "example.greeting", "hello", "What GET /v1/greet answers.")
}

func (c *exampleConfig) Validate() error { return nil }

// exampleApp has nothing to do but serve its handler.
type exampleApp struct{}

func (exampleApp) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// A service's main: the program's flags are -example.greeting plus the
// runtime's (-http.addr, -log.level, -shutdown.*, -otlp.*, -trace.*), each
// also settable as TRIBUTARY_<FLAG>.
func Example() {
	var cfg exampleConfig
	program := service.Program{
		Name:     "example",
		HTTPAddr: ":8080",
		Config:   &cfg,
		New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
			rt.Handle("GET /v1/greet", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(cfg.greeting))
			}))
			// A dependency: /readyz is 503 until the setup has succeeded.
			conn := rt.AddSetup("connect", func(ctx context.Context) error { return nil })
			rt.AddCheck("connect", conn.Check)
			rt.AddCloser("connection", func(ctx context.Context) error { return nil })
			return exampleApp{}, nil
		},
	}
	_ = program // in main: service.Main(program)
}
