-- Validated producer events, stored by the features service as it reads them
-- from the Kafka topics tributary.events.<stream>: the history that backfills
-- and training sets are computed from.
--
-- One row per event. The sorting key ends with the event's identity (source,
-- event_id), so a replayed or duplicated event collapses into one row when
-- parts merge; until then read with FINAL (or GROUP BY the key) to see each
-- event once. The key starts with (stream, entity_key, event_time), which
-- makes per-entity time-range reads cheap; monthly partitions prune the rest.
CREATE TABLE IF NOT EXISTS ${database}.events
(
    stream          String          COMMENT 'Stream name: the event was read from Kafka topic tributary.events.<stream>.',
    event_id        String          COMMENT 'CloudEvents id, unique per source.',
    source          String          COMMENT 'CloudEvents source: who produced the event.',
    type            String          COMMENT 'CloudEvents type, for example com.example.order.placed.v1.',
    entity_key      String          COMMENT 'Entity key (the Kafka record key), for example a customer id.',
    event_time      DateTime('UTC') COMMENT 'Event time in whole seconds, UTC; milliseconds in event_time_ms.',
    event_time_ms   UInt16          COMMENT 'Milliseconds of event_time, 0 to 999.',
    ingest_time     DateTime('UTC') COMMENT 'When ingest accepted the event (the Kafka record timestamp), whole seconds, UTC.',
    ingest_time_ms  UInt16          COMMENT 'Milliseconds of ingest_time, 0 to 999.',
    kafka_partition Int32           COMMENT 'Partition of the Kafka record the event was read from.',
    kafka_offset    Int64           COMMENT 'Offset of that Kafka record.',
    data            String          COMMENT 'The event data (CloudEvents data) as JSON text.'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (stream, entity_key, event_time, event_time_ms, source, event_id);
