// Package intake is the ingest service's core, shared by the HTTP API and
// the raw Kafka consumer: it checks decoded CloudEvents against their
// stream, writes the valid ones to their stream's topic keyed by entity, the
// rejected ones to the dead-letter topic with the reason in headers, and
// reports a result per event only once Kafka has the record.
//
// Back-pressure: records go through the producer's bounded buffer with
// TryProduce; a full buffer, or a write Kafka has not acknowledged within
// the produce timeout, is the outcome Unavailable (HTTP 503), never a wait
// without end and never a drop without an answer. While Kafka is known
// down (Health, fed by the producer's connection hook) the wait is the
// shorter outage timeout, so producers learn to back off sooner.
//
// No input stops it: what goes into a record is bounded (limits.go), and a
// dead-letter record is built by libs/deadletter's Builder within the
// producer's batch size (Config.DeadLetterMaxBytes), so either always fits
// Kafka; a panic on one event is recovered, counted and dead-lettered as
// internal_error. Reasons are libs/reason's ids; Status gives each its
// HTTP status from reason.Ingest().
package intake
