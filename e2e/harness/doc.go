// Package harness runs the Tributary platform for end-to-end tests: it
// provides the infrastructure (the local processes of deploy/local, Docker
// containers through testcontainers-go, or servers that are already
// running), builds the six service binaries, starts them, waits until every
// one is ready, and stops everything it started.
//
// The infrastructure mode comes from TRIBUTARY_E2E_INFRA:
//
//	auto        containers when a Docker engine answers, local otherwise (default)
//	local       deploy/local/infra.sh up; stopped again only if this run started it
//	containers  Kafka, NATS, Redis and ClickHouse containers (testcontainers-go)
//	external    the servers named by TRIBUTARY_KAFKA_BROKERS, TRIBUTARY_NATS_URL,
//	            TRIBUTARY_REDIS_ADDR and TRIBUTARY_CLICKHOUSE_ADDR
//
// A test that stops brokers (the loop's fault test) starts a Kafka and a
// nats-server of its own with StartBrokers (deploy/local/infra.sh on free
// ports, in every mode), runs a second set of the six services against
// them with Start, and kills and restarts services with Platform.Kill and
// Platform.Restart; the shared servers are never stopped.
package harness
