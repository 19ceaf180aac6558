-- Drift per model version, per input feature and for the prediction, per
-- tumbling window and method, against the version's reference distribution
-- from the registry; written by the monitor when a window closes.
--
-- The sorting key is the metric's identity: a window computed again (after
-- a crash, from the replayed tail) replaces the earlier row, the latest
-- computed_ms winning when parts merge; until then read with FINAL.
CREATE TABLE IF NOT EXISTS ${database}.drift_metrics
(
    model               String            COMMENT 'Model name.',
    version             UInt32            COMMENT 'Model version.',
    target              Enum8('feature' = 1, 'prediction' = 2) COMMENT 'What drifted: an input feature, or the model''s prediction.',
    feature             String            COMMENT 'Feature reference (view:feature); empty for the prediction.',
    method              String            COMMENT 'Statistic: psi, ks, wasserstein (numeric), chi_squared, jensen_shannon (categorical).',
    window_start        DateTime('UTC')   COMMENT 'First instant of the tumbling window, UTC.',
    window_size_seconds UInt32            COMMENT 'Length of the window, seconds (300, 3600, ...).',
    window_end          DateTime('UTC')   COMMENT 'End of the window (exclusive), UTC.',
    value               Float64           COMMENT 'The statistic: PSI, KS statistic D, Wasserstein-1 over the reference standard deviation, chi-squared, or Jensen-Shannon distance.',
    p_value             Nullable(Float64) COMMENT 'p-value of the tests (ks, chi_squared); NULL for the distances.',
    threshold           Float64           COMMENT 'The p-value below which, or the value above which, the feature has drifted.',
    bound               Float64           COMMENT 'What the binning can hide: KS, the largest statistic the raw samples can have; Wasserstein, the largest difference from the raw distance; 0 otherwise.',
    drifted             UInt8             COMMENT '1 when the statistic crossed its threshold and the window had enough values, else 0.',
    skipped             String            COMMENT 'Why no drift was judged: few_values (fewer than the minimum sample size), empty_reference; empty when judged.',
    sample_size         UInt64            COMMENT 'Values (not missing) of the feature or prediction in the window.',
    computed_ms         UInt64            COMMENT 'When the monitor computed the row, milliseconds since the epoch; the latest wins.'
)
ENGINE = ReplacingMergeTree(computed_ms)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, feature, method, window_start, window_size_seconds);
