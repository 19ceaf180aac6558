// Package e2e holds Tributary's end-to-end tests: they run the six service
// binaries against real Kafka, NATS, Redis and ClickHouse (see package
// harness for where the infrastructure comes from) and check the platform
// from the outside, as a user would.
package e2e
