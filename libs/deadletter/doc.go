// Package deadletter is the contract of the dead-letter topic,
// tributary.dlq: every service that refuses an input it cannot retry (a
// malformed event, a record no view can read, a label without a stream)
// writes one record there, built by Builder.Record, and every reader (the
// cli, tests, a replay tool) reads it back with Decode.
//
// A dead-letter record is the refused input as it came, so it can be
// replayed: its key, its value and its own headers (for a CloudEvent in
// binary mode, the ce_ headers), plus these headers, each with one meaning:
//
//	tributary_reason     the stable id of the refusal (libs/reason), also
//	                     the reason label of the service's metric
//	tributary_error      the human message: which field broke which rule
//	tributary_service    the service that dead-lettered it: "ingest", "features"
//	tributary_origin     where the input came from: "http" for a request to
//	                     the service's HTTP API, "kafka:<topic>/<partition>/<offset>"
//	                     for a record the service consumed
//	tributary_received   when the service received or read it, RFC 3339 UTC
//	                     with nanoseconds
//	tributary_truncated  present only when something was cut to fit: a
//	                     comma-separated list of "value", "key", "error",
//	                     "header_values" (one or more header values were cut),
//	                     "headers" (one or more headers were dropped)
//
// The input's own headers named tributary_* are dropped (and "headers" is
// listed in tributary_truncated), so a producer cannot forge a reason or an
// origin.
//
// A record built by Builder.Record always fits Builder.MaxBytes, whatever
// the size of the input: the value is cut first, then header values, then
// whole headers, then the key, then the message; the refusal itself (reason,
// service, origin, time) is never cut. Of the input's headers, those that
// identify a CloudEvent in binary mode (ce_id, ce_source, ce_type,
// ce_specversion, ce_time, content-type) are kept first, so that hundreds
// of other headers cannot push them out. Producing a dead-letter record
// therefore never fails with MESSAGE_TOO_LARGE, so the consumer that refused
// the input can commit past it.
package deadletter
