// Package tiles is the aggregation core of Tributary's feature store: the
// per-entity state of a feature view (hierarchical tiles of aggregation
// states, the latest values, the applied Kafka offsets), how an event is
// applied to it, how a feature is read from it at an instant, and its layout
// in Redis. The features service applies events online (Redis) and offline
// (training sets, from the events stored in ClickHouse) with this same code,
// and serving reads Redis with it, so that a value read online at time t and
// the training value for time t are equal by construction.
//
// # Tiles and window precision
//
// Time is in Unix milliseconds, UTC. Tiles have four sizes (levels): 10s, 1m,
// 1h and 1d, aligned on the Unix epoch. Every event is added to the one tile
// of each level that contains its event time. A tile holds one aggregation
// state per distinct aggregate of the view (sum, mean, min, max and stddev of
// one field under one filter share a state).
//
// A window W read at instant T covers the events with event time in
// [start, T], where start is T−W rounded down to the window's unit: the
// largest level not longer than W/24 (10s for windows under 24m, 1m under
// 24h, 1h under 24d, 1d beyond). The window is thus up to one unit (at most
// 1/24 of it, about 4%) longer than W at its old edge and exact at its new
// edge. Every event is also added to the dyadic blocks of its tiles within
// their parent (levels.go: 2 and 4 ten-second tiles within a minute, 2 to 32
// minutes within an hour, 2 to 16 hours within a day). The read merges, from
// start, the largest tile or block starting there, again and again, until
// the 10s tile holding T is covered: at most 9 tiles for a 1h window, 6 for
// 1d, 12 for 7d, whatever the number of events. The last one may reach past
// T; it holds no event after T, because no state holds an event after the
// instant it is read at (online T is now, offline the state is built from
// the events up to T).
//
// # Order, lateness and idempotence
//
// Events of an entity are applied in their Kafka order (partition offset). An
// event older than the entity's newest event by more than the view's lateness
// is not applied (Late); one whose offset is at or below the last applied
// offset of its partition is skipped (Duplicate), which makes a replay after
// a crash change nothing; one whose ID (its CloudEvents source and id) was
// applied and could still count is a re-sent copy and is skipped as well.
// Accept gives the offline path these same outcomes, judged against every
// earlier event, so that an event refused online never reaches a training
// set. An event stamped after its arrival counts from its arrival
// (Event.Arrive), so that no state holds an event after the instant it is
// read at. Writes to Redis are fenced: Batch.Commit writes an entity only if
// the offsets read by Store.Prepare are unchanged (ErrFenced otherwise), so a
// consumer that lost its partitions cannot overwrite the new owner's state.
// Floating-point states are updated in that order and
// tiles merged in time order, so the online and the offline computations,
// given the same events in the same order, agree to the last bit.
package tiles
