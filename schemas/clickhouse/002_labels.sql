-- Labels (ground truth), stored by the features service as it reads them from
-- the Kafka topic tributary.labels. Training sets join each label with the
-- features as they were at the label's time; the monitor joins late labels
-- with predictions.
--
-- One row per label event: as in events, the sorting key ends with the
-- event's identity, so duplicates collapse on merge; read with FINAL (or
-- GROUP BY the key) to see each label once. Reads are per label stream over a
-- time range, or per label stream and entity.
CREATE TABLE IF NOT EXISTS ${database}.labels
(
    stream          String          COMMENT 'Label stream: what is labelled, for example fraud or churned (stream in the label event).',
    event_id        String          COMMENT 'CloudEvents id of the label event, unique per source.',
    source          String          COMMENT 'CloudEvents source: who produced the label.',
    entity_key      String          COMMENT 'Entity the label is about (the Kafka record key).',
    event_time      DateTime('UTC') COMMENT 'When the labelled fact held (the label event time), whole seconds, UTC; milliseconds in event_time_ms.',
    event_time_ms   UInt16          COMMENT 'Milliseconds of event_time, 0 to 999.',
    value           Float64         COMMENT 'The label: 0 or 1 for binary classification, the class index for multi-class, the target for regression.',
    prediction_id   String          COMMENT 'The prediction this label judges, when the producer knows it; empty otherwise.',
    ingest_time     DateTime('UTC') COMMENT 'When ingest accepted the label (the Kafka record timestamp), whole seconds, UTC.',
    ingest_time_ms  UInt16          COMMENT 'Milliseconds of ingest_time, 0 to 999.',
    kafka_partition Int32           COMMENT 'Partition of the Kafka record the label was read from.',
    kafka_offset    Int64           COMMENT 'Offset of that Kafka record.',
    data            String          COMMENT 'The whole label event data as JSON text.'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (stream, entity_key, event_time, event_time_ms, source, event_id);
