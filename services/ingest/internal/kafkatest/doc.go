// Package kafkatest helps the ingest service's tests work on a real Kafka
// broker shared with other tests: unique topic-name prefixes, topics
// created and deleted per test, and reading a topic back.
package kafkatest
