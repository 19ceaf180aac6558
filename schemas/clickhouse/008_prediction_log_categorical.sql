-- Categorical (string) input features in the prediction log, stored as the
-- numeric ones are: two parallel arrays, the feature references sorted and
-- each one's value, NULL where the entity had no value. Rows written before
-- this migration read empty arrays.
--
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: run again, an ADD COLUMN
-- fails with "column with this name already exists", which the migrator
-- (chx.Migrate) takes as applied; each statement adds one column. 18.16 also
-- drops the COMMENT of an ADD COLUMN, hence the COMMENT COLUMN statements
-- (which run again unchanged).
ALTER TABLE ${database}.prediction_log ADD COLUMN categorical_feature_names Array(String) AFTER feature_values;

ALTER TABLE ${database}.prediction_log ADD COLUMN categorical_feature_values Array(Nullable(String)) AFTER categorical_feature_names;

ALTER TABLE ${database}.prediction_log COMMENT COLUMN categorical_feature_names 'Categorical (string) input feature references (view:feature), sorted; parallel to categorical_feature_values; empty when the model has none (and in rows logged before migration 008).';

ALTER TABLE ${database}.prediction_log COMMENT COLUMN categorical_feature_values 'Input value of each feature of categorical_feature_names; NULL where the entity had no value.';
