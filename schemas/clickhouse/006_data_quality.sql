-- Data quality per model version, per input feature and for the prediction,
-- per tumbling window, against the version's reference distribution:
-- missing values, values outside the reference's range, unseen categories.
-- Written by the monitor when a window closes; a window computed again
-- replaces the earlier row (latest computed_ms); read with FINAL.
CREATE TABLE IF NOT EXISTS ${database}.data_quality
(
    model               String          COMMENT 'Model name.',
    version             UInt32          COMMENT 'Model version.',
    target              Enum8('feature' = 1, 'prediction' = 2) COMMENT 'An input feature, or the model''s prediction.',
    feature             String          COMMENT 'Feature reference (view:feature); empty for the prediction.',
    window_start        DateTime('UTC') COMMENT 'First instant of the tumbling window, UTC.',
    window_size_seconds UInt32          COMMENT 'Length of the window, seconds.',
    window_end          DateTime('UTC') COMMENT 'End of the window (exclusive), UTC.',
    total               UInt64          COMMENT 'Values in the window, missing ones included.',
    missing             UInt64          COMMENT 'Missing values (null, absent, NaN or infinite).',
    missing_share       Float64         COMMENT 'missing / total (0 when total is 0).',
    below_range         UInt64          COMMENT 'Numeric values below the reference minimum.',
    above_range         UInt64          COMMENT 'Numeric values above the reference maximum.',
    out_of_range_share  Float64         COMMENT '(below_range + above_range) / values not missing.',
    unseen              UInt64          COMMENT 'Categorical values of categories the reference does not keep.',
    unseen_share        Float64         COMMENT 'unseen / values not missing.',
    breaches            Array(String)   COMMENT 'Checks over their threshold: missing_share, out_of_range_share, unseen_share; empty when none (or the window was below the minimum sample size).',
    computed_ms         UInt64          COMMENT 'When the monitor computed the row, milliseconds since the epoch; the latest wins.'
)
ENGINE = ReplacingMergeTree(computed_ms)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, feature, window_start, window_size_seconds);
