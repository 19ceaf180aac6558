-- Performance on delayed labels, written by the monitor as it consumes
-- tributary.labels.
--
-- monitor_labels keeps every label the monitor consumed (the copies of a
-- replay collapse on its identity); a label not yet in prediction_labels is
-- waiting for its prediction and is joined again until -labels.pending-max-age.
-- prediction_labels is the join: one row per labelled prediction, keyed by
-- the prediction id, the latest label (label_ingest_ms) winning; metrics are
-- recomputed from it with FINAL, so a replayed or late label counts once.
-- model_performance and fairness_metrics are recomputed per window a label
-- touches; the latest computed_ms wins; read them with FINAL.
CREATE TABLE IF NOT EXISTS ${database}.monitor_labels
(
    label_id        String          COMMENT 'Identity of the label event: CloudEvents source, a slash, CloudEvents id.',
    stream          String          COMMENT 'Label stream (stream in the label event).',
    entity_key      String          COMMENT 'Entity the label is about.',
    event_time      DateTime('UTC') COMMENT 'When the labelled outcome applies, whole seconds, UTC.',
    event_time_ms   UInt16          COMMENT 'Milliseconds of event_time, 0 to 999.',
    value           Float64         COMMENT 'The label: 0 or 1 for binary classification, the target for regression.',
    prediction_id   String          COMMENT 'The prediction the label judges, when the producer knows it; empty otherwise (joined by entity and time).',
    ingest_time     DateTime('UTC') COMMENT 'When the label reached Kafka (the record timestamp), whole seconds, UTC.',
    ingest_time_ms  UInt16          COMMENT 'Milliseconds of ingest_time, 0 to 999.',
    kafka_partition Int32           COMMENT 'Partition of the Kafka record.',
    kafka_offset    Int64           COMMENT 'Offset of the Kafka record.'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ingest_time)
ORDER BY (ingest_time, label_id);

CREATE TABLE IF NOT EXISTS ${database}.prediction_labels
(
    prediction_id      String          COMMENT 'The labelled prediction (prediction_log.prediction_id): the key, one row per prediction.',
    model              String          COMMENT 'Model name.',
    version            UInt32          COMMENT 'Model version that made the prediction.',
    route              String          COMMENT 'Alias that routed the prediction (production, canary, shadow, ...); empty when a version was asked for directly.',
    entity_key         String          COMMENT 'Entity of the prediction.',
    prediction_time    DateTime('UTC') COMMENT 'When the prediction was made, whole seconds, UTC: the windows it belongs to.',
    prediction_time_ms UInt16          COMMENT 'Milliseconds of prediction_time, 0 to 999.',
    prediction         Float64         COMMENT 'Model output: the score or probability of the positive class, or the regression value.',
    label              Float64         COMMENT 'The label value.',
    label_id           String          COMMENT 'monitor_labels.label_id of the label joined.',
    label_time         DateTime('UTC') COMMENT 'Event time of the label, whole seconds, UTC.',
    joined_by          Enum8('prediction_id' = 1, 'entity' = 2) COMMENT 'How the label found the prediction: by its prediction_id, or by entity and time within the model''s horizon.',
    attribute          String          COMMENT 'Sensitive attribute configured for the model when the label was joined (a feature reference); empty when none.',
    attribute_value    String          COMMENT 'Value of the sensitive attribute in the prediction (decimal text); empty when missing or none is configured.',
    label_ingest_ms    UInt64          COMMENT 'When the label reached Kafka, milliseconds since the epoch; of two labels of one prediction the later wins.'
)
ENGINE = ReplacingMergeTree(label_ingest_ms)
PARTITION BY toYYYYMM(prediction_time)
ORDER BY (model, prediction_time, prediction_id);

CREATE TABLE IF NOT EXISTS ${database}.model_performance
(
    model               String            COMMENT 'Model name.',
    version             UInt32            COMMENT 'Model version.',
    route               String            COMMENT 'Alias that routed the predictions; empty for direct version requests.',
    window_start        DateTime('UTC')   COMMENT 'First instant of the tumbling window of prediction times, UTC.',
    window_size_seconds UInt32            COMMENT 'Length of the window, seconds.',
    window_end          DateTime('UTC')   COMMENT 'End of the window (exclusive), UTC.',
    task                Enum8('classification' = 1, 'regression' = 2) COMMENT 'Binary classification (score against decision_threshold) or regression.',
    predictions         UInt64            COMMENT 'Predictions in the window (prediction_log).',
    labelled            UInt64            COMMENT 'Predictions in the window that have a label.',
    unlabelled          UInt64            COMMENT 'Predictions in the window still without a label.',
    positives           UInt64            COMMENT 'Labelled predictions whose label is 1 (classification); 0 for regression.',
    decision_threshold  Float64           COMMENT 'Score at or above which a prediction counts as positive (classification).',
    accuracy            Nullable(Float64) COMMENT 'Share of labelled predictions classified right; NULL for regression.',
    precision           Nullable(Float64) COMMENT 'True positives over predicted positives; NULL when none was predicted positive, or for regression.',
    recall              Nullable(Float64) COMMENT 'True positives over actual positives; NULL when no label is positive, or for regression.',
    f1                  Nullable(Float64) COMMENT 'Harmonic mean of precision and recall (0 when both are 0); NULL when either is NULL.',
    auc                 Nullable(Float64) COMMENT 'Area under the ROC curve of the scores (ties count one half); NULL when the labels hold one class only, or for regression.',
    log_loss            Nullable(Float64) COMMENT 'Mean negative log-likelihood of the labels, scores clipped to [eps, 1 - eps] with eps the float64 machine epsilon, as scikit-learn does; NULL for regression.',
    mae                 Nullable(Float64) COMMENT 'Mean absolute error; NULL for classification.',
    rmse                Nullable(Float64) COMMENT 'Root mean squared error; NULL for classification.',
    breaches            Array(String)     COMMENT 'Metrics past their threshold (the model''s min or max); empty when none, or with fewer labelled predictions than the minimum sample size.',
    computed_ms         UInt64            COMMENT 'When the monitor computed the row, milliseconds since the epoch; the latest wins.'
)
ENGINE = ReplacingMergeTree(computed_ms)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, route, window_start, window_size_seconds);

CREATE TABLE IF NOT EXISTS ${database}.fairness_metrics
(
    model                         String            COMMENT 'Model name.',
    version                       UInt32            COMMENT 'Model version.',
    route                         String            COMMENT 'Alias that routed the predictions; empty for direct version requests.',
    attribute                     String            COMMENT 'Sensitive attribute: the feature reference whose value names the group.',
    group_value                   String            COMMENT 'The group: the attribute''s value (decimal text); empty for predictions without it.',
    window_start                  DateTime('UTC')   COMMENT 'First instant of the tumbling window of prediction times, UTC.',
    window_size_seconds           UInt32            COMMENT 'Length of the window, seconds.',
    window_end                    DateTime('UTC')   COMMENT 'End of the window (exclusive), UTC.',
    predictions                   UInt64            COMMENT 'Predictions of the group in the window.',
    positive_rate                 Float64           COMMENT 'Share of the group''s predictions at or above the decision threshold.',
    labelled                      UInt64            COMMENT 'Labelled predictions of the group.',
    accuracy                      Nullable(Float64) COMMENT 'Accuracy on the group''s labelled predictions; NULL without any.',
    true_positive_rate            Nullable(Float64) COMMENT 'Recall of the group; NULL when none of its labels is positive.',
    false_positive_rate           Nullable(Float64) COMMENT 'Predicted positives over actual negatives of the group; NULL when none of its labels is negative.',
    demographic_parity_difference Float64           COMMENT 'Of the window (same on every group row): largest minus smallest positive_rate over the groups with predictions.',
    equalized_odds_difference     Nullable(Float64) COMMENT 'Of the window: the larger of the spreads (max minus min) of true_positive_rate and of false_positive_rate over the groups; NULL when no rate is defined in two groups.',
    breaches                      Array(String)     COMMENT 'Of the window: demographic_parity_difference or equalized_odds_difference over the model''s threshold; empty when none, or below the minimum sample size.',
    computed_ms                   UInt64            COMMENT 'When the monitor computed the row, milliseconds since the epoch; the latest wins.'
)
ENGINE = ReplacingMergeTree(computed_ms)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, route, attribute, window_start, window_size_seconds, group_value);
