-- The prediction log: one row per prediction served, written by the monitor
-- as it consumes tributary.predictions (tributary.prediction.logged.v1).
--
-- The monitor writes at least once: a replay after a crash appends a row
-- again. The sorting key ends with the prediction's identity (prediction_id)
-- after the columns a replay repeats unchanged (model, event time), inside a
-- monthly partition of the event time, so the copies of one prediction
-- collapse into one row when parts merge; until then read with FINAL (or
-- LIMIT 1 BY prediction_id) to see each prediction once. The key starts with
-- the model and time, so per-model time-range reads touch few granules.
CREATE TABLE IF NOT EXISTS ${database}.prediction_log
(
    prediction_id   String                    COMMENT 'Unique id of the prediction (the idempotency key of the log).',
    event_time      DateTime('UTC')           COMMENT 'When the prediction was made, whole seconds, UTC.',
    event_time_ms   UInt16                    COMMENT 'Milliseconds of event_time, 0 to 999.',
    model           String                    COMMENT 'Model name.',
    version         UInt32                    COMMENT 'Model version that answered.',
    route           String                    COMMENT 'Alias that routed the request (production, canary, shadow, ...); empty when a version was asked for directly.',
    shadow          UInt8                     COMMENT '1 for a shadow prediction that was not returned to the caller, else 0.',
    entity_key      String                    COMMENT 'Entity the prediction is for (the Kafka record key).',
    feature_names   Array(String)             COMMENT 'Input feature references (view:feature), sorted; parallel to feature_values.',
    feature_values  Array(Nullable(Float64))  COMMENT 'Input value of each feature of feature_names; NULL where the entity had no value.',
    prediction      Float64                   COMMENT 'Model output: the score or probability of the positive class, the class index, or the regression value.',
    probabilities   Array(Float64)            COMMENT 'Class probabilities of a multi-class model; empty otherwise.',
    latency_seconds Float64                   COMMENT 'Time the model took to answer, features included, seconds (0 when not reported).',
    feature_age_names   Array(String)         COMMENT 'Feature references whose value age serving reported, sorted; parallel to feature_age_seconds; empty when serving did not report ages.',
    feature_age_seconds Array(Float64)        COMMENT 'Age of each feature value of feature_age_names at prediction time, seconds.',
    logged_time     DateTime('UTC')           COMMENT 'When the record reached Kafka (the record timestamp), whole seconds, UTC.',
    logged_time_ms  UInt16                    COMMENT 'Milliseconds of logged_time, 0 to 999.',
    kafka_partition Int32                     COMMENT 'Partition of the Kafka record.',
    kafka_offset    Int64                     COMMENT 'Offset of the Kafka record.'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (model, event_time, event_time_ms, prediction_id);
