// Package intake is the ingest service's core, shared by the HTTP API and
// the raw Kafka consumer: it checks decoded CloudEvents against their
// stream, writes the valid ones to their stream's topic keyed by entity, the
// rejected ones to the dead-letter topic with the reason in headers, and
// reports a result per event only once Kafka has the record.
//
// Back-pressure: records go through the producer's bounded buffer with
// TryProduce; a full buffer, or a write Kafka has not acknowledged within
// the produce timeout, is the outcome Unavailable (HTTP 503), never a wait
// without end and never a drop without an answer.
package intake
