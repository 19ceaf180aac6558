// Package deps connects a service to the infrastructure it uses (Kafka,
// NATS with JetStream, Redis, ClickHouse) the same way in every service: it
// registers their flags, builds the clients, and registers on the service
// runtime a readiness check and a closer for each.
//
// A service starts even when a dependency is down: Kafka, Redis and
// ClickHouse clients connect lazily, and NATS is dialled in the background
// until it answers. Until then /readyz names the dependency that is not
// reachable; it turns ready by itself when the dependency comes up.
package deps
