// Package service is the runtime every Tributary service's main uses: flags
// with environment-variable fallbacks, structured logs, Prometheus metrics,
// liveness and readiness endpoints, tracing, and a run group with graceful
// shutdown.
package service
