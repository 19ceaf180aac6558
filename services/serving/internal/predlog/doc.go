// Package predlog is serving's prediction log producer: it takes
// prediction log records on the request path without blocking, and
// delivers them to Kafka in the background, in batches, durably.
//
// Records wait in a bounded memory buffer; when Kafka is slow or down and
// the buffer is full, further records are appended to a spill directory of
// length-prefixed, CRC-checked segment files, which are sent in order once
// Kafka is back and deleted only when every record in them is
// acknowledged. A restart replays what an earlier process spilled. When the
// memory buffer and the spill are both full, the newest record is dropped
// and counted. See README.md for the order and delivery guarantees.
package predlog
