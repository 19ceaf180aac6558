-- Feature values as the features service computed them online, for analysts:
-- after each materializer batch, one row per (view, entity touched by the
-- batch, feature), read from Redis at the entity's newest event time in the
-- batch with the same code as the read API.
--
-- The sorting key is the row's identity: a replayed batch writes the same
-- rows (same as_of, same values) and they collapse into one when parts
-- merge; until then read with FINAL.
CREATE TABLE IF NOT EXISTS ${database}.feature_history
(
    view            String                    COMMENT 'Feature view name.',
    version         String                    COMMENT 'Version (sha256 of the resolved definition) of the view that computed the value.',
    entity_key      String                    COMMENT 'Entity key, for example a user id.',
    feature         String                    COMMENT 'Feature name within the view, for example clicks_1h; referenced as view:feature.',
    as_of           DateTime('UTC')           COMMENT 'Instant the value was read at, whole seconds, UTC: the event time of the entity''s newest event in the batch.',
    as_of_ms        UInt16                    COMMENT 'Milliseconds of as_of, 0 to 999.',
    value           Nullable(Float64)         COMMENT 'Numeric value (int, float; boolean as 0 or 1); NULL for a string-valued feature or when the entity has no value.',
    value_string    Nullable(String)          COMMENT 'Value of a string-valued feature (last or latest of a string field); NULL otherwise.',
    event_time      Nullable(DateTime('UTC')) COMMENT 'Event time of the newest event the value includes, whole seconds, UTC; NULL when there is no value.',
    event_time_ms   UInt16                    COMMENT 'Milliseconds of event_time, 0 to 999 (0 when event_time is NULL).',
    kafka_partition Int32                     COMMENT 'Kafka partition of the newest record of the entity in the batch.',
    kafka_offset    Int64                     COMMENT 'Kafka offset of that record.'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(as_of)
ORDER BY (view, entity_key, feature, as_of, as_of_ms, version);
