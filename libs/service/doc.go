// Package service is the runtime every Tributary service's main uses: flags
// with environment-variable fallbacks, structured logs, Prometheus metrics,
// liveness and readiness endpoints, tracing, and a run group with graceful
// shutdown.
//
// A service's main describes a Program and hands it to Main:
//
//	func main() { service.Main(program()) }
//
//	func program() service.Program {
//		var cfg app.Config
//		return service.Program{
//			Name:     "ingest",
//			HTTPAddr: ":8081",
//			Config:   &cfg,
//			New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
//				return app.New(ctx, cfg, rt)
//			},
//		}
//	}
//
// Main then:
//
//   - parses the runtime's flags and the app's (every flag -a.b-c can also be
//     set as TRIBUTARY_A_B_C; the command line wins), validates both, and on
//     a bad value prints one line naming the flag and the variable and exits
//     with code 2; -h prints every flag with its variable and default;
//   - builds a JSON slog logger on stderr (with a "service" attribute), a
//     fresh Prometheus registry with the Go and process collectors, and a
//     tracer provider (OTLP over HTTP when -otlp.endpoint is set, a no-op
//     otherwise) with the W3C trace-context and baggage propagator;
//   - calls Program.New, where the app connects to its dependencies and
//     registers on the Runtime its HTTP handlers, actors, readiness checks,
//     setups and closers (package deps does this for Kafka, NATS, Redis and
//     ClickHouse);
//   - serves the app's handlers, /metrics, /healthz and /readyz on one HTTP
//     server, and runs the app and the other actors in a Group;
//   - on SIGINT or SIGTERM, or when an actor or the server fails, shuts down
//     in order: /readyz turns 503, -shutdown.delay passes, the HTTP server
//     drains in-flight requests, the actors stop, the closers run in reverse
//     order of registration, all within -shutdown.timeout; a second signal
//     exits at once. The exit code is 0 only if every step succeeded.
//
// /healthz answers 200 while the process serves. /readyz answers 200 only
// when every registered check passes: checks run concurrently, each within
// 2s, and the answer is cached for 1s so that a burst of probes runs them
// once. A check can take up to its timeout, so give the readiness probe a
// timeout of 3s or more. A background prober re-evaluates readiness (every
// 100ms to 5s while not ready, every 10s when ready) and logs each change.
//
// The OpenTelemetry globals are not set: the provider and propagator are on
// the Runtime, to be passed to what needs them.
package service
