// Package dedup remembers, per ingest replica and for a time window, which
// CloudEvents (source, id) pairs have been written to Kafka, so that a
// producer's retry of an event already written is accepted without writing
// it again.
//
// Limits, by design: the memory is per replica and lost on restart; two
// replicas behind a load balancer that does not route by source each write
// their copy; the window is also bounded by MaxEntries, and under a load
// that fills it the oldest ids are forgotten early. Downstream sinks key on
// the event id as well (at-least-once with idempotent sinks), so a duplicate
// that passes here is harmless, only wasteful.
package dedup
