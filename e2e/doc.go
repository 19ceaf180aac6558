// Package e2e holds Tributary's end-to-end tests: they run the six service
// binaries against real Kafka, NATS, Redis and ClickHouse (see package
// harness for where the infrastructure comes from) and check the platform
// from the outside, as a user would.
//
// TestLoop and TestLoopFaults run the whole loop with the example of
// examples/cards and the card workload of libs/cardgen, each on a stack of
// its own: a private Kafka and NATS (the fault test stops them), the shared
// Redis and ClickHouse under unique names, and a second set of the six
// binaries with drift windows of 20 s and feature windows of a minute
// (loopEnv, startLoopStack).
package e2e
