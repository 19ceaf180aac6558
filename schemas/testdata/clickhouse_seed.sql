-- Rows for the documented queries (every code block marked sql in the
-- repository's Markdown) to return, inserted by TestClickHouseDocumentedSQL
-- (schemas/clickhouse_current_test.go) after the migrations, on ClickHouse
-- 18.16 and on chdb. Each documented query must return at least one row: a query
-- added to the docs about other rows needs rows here too.
--
-- INSERT ... SELECT, not INSERT ... VALUES, which clickhouse-go's Exec cannot
-- send to 18.16. ${database} is substituted as in the migrations, and ${now}
-- by the test's start in seconds since the epoch (the same instant on both
-- releases, whose rows are compared). Duplicates
-- (the same identity inserted again) prove that FINAL collapses them on both
-- releases.

INSERT INTO ${database}.events (stream, event_id, source, type, entity_key, event_time, event_time_ms, ingest_time, ingest_time_ms, kafka_partition, kafka_offset, data)
SELECT 'orders', 'e1', 'shop', 'com.example.order.placed.v1', 'c42', toDateTime(${now} - 600, 'UTC'), toUInt16(125), toDateTime(${now} - 599, 'UTC'), toUInt16(0), toInt32(0), toInt64(10), '{"amount":12.5}'
UNION ALL
SELECT 'orders', 'e2', 'shop', 'com.example.order.placed.v1', 'c42', toDateTime(${now} - 300, 'UTC'), toUInt16(0), toDateTime(${now} - 299, 'UTC'), toUInt16(7), toInt32(0), toInt64(11), '{"amount":3,"note":"it''s; fine"}'
UNION ALL
SELECT 'orders', 'e3', 'shop', 'com.example.order.placed.v1', 'c42', toDateTime(${now} - 7200, 'UTC'), toUInt16(999), toDateTime(${now} - 7199, 'UTC'), toUInt16(1), toInt32(1), toInt64(4), '{"amount":1}'
UNION ALL
SELECT 'orders', 'e4', 'shop', 'com.example.order.placed.v1', 'c7', toDateTime(${now} - 60, 'UTC'), toUInt16(5), toDateTime(${now} - 59, 'UTC'), toUInt16(5), toInt32(1), toInt64(5), '{"amount":2}';

-- e1 again, from a replay after a crash.
INSERT INTO ${database}.events (stream, event_id, source, type, entity_key, event_time, event_time_ms, ingest_time, ingest_time_ms, kafka_partition, kafka_offset, data)
SELECT 'orders', 'e1', 'shop', 'com.example.order.placed.v1', 'c42', toDateTime(${now} - 600, 'UTC'), toUInt16(125), toDateTime(${now} - 500, 'UTC'), toUInt16(0), toInt32(0), toInt64(99), '{"amount":12.5}';

INSERT INTO ${database}.labels (stream, event_id, source, entity_key, event_time, event_time_ms, value, prediction_id, ingest_time, ingest_time_ms, kafka_partition, kafka_offset, data)
SELECT 'churned', 'l1', 'crm', 'c42', toDateTime('2026-11-26 10:00:00', 'UTC'), toUInt16(500), toFloat64(1), 'p-17', toDateTime('2026-11-26 10:01:30', 'UTC'), toUInt16(0), toInt32(0), toInt64(3), '{"stream":"churned","entity_key":"c42","value":1,"prediction_id":"p-17"}'
UNION ALL
SELECT 'churned', 'l2', 'crm', 'c7', toDateTime('2026-11-26 10:00:00', 'UTC'), toUInt16(0), toFloat64(0), '', toDateTime('2026-11-26 10:01:30', 'UTC'), toUInt16(0), toInt32(0), toInt64(4), '{"stream":"churned","entity_key":"c7","value":0}';

INSERT INTO ${database}.feature_history (view, version, entity_key, feature, as_of, as_of_ms, value, value_string, event_time, event_time_ms, kafka_partition, kafka_offset)
SELECT 'user_clicks', 'v1', 'u42', 'clicks_1h', toDateTime('2026-11-26 10:00:00', 'UTC'), toUInt16(250), toNullable(toFloat64(3)), CAST(NULL AS Nullable(String)), toNullable(toDateTime('2026-11-26 10:00:00', 'UTC')), toUInt16(250), toInt32(0), toInt64(20)
UNION ALL
SELECT 'user_clicks', 'v1', 'u42', 'clicks_1h', toDateTime('2026-11-26 10:05:00', 'UTC'), toUInt16(0), toNullable(toFloat64(4)), CAST(NULL AS Nullable(String)), toNullable(toDateTime('2026-11-26 10:05:00', 'UTC')), toUInt16(0), toInt32(0), toInt64(21)
UNION ALL
SELECT 'user_clicks', 'v1', 'u42', 'last_page', toDateTime('2026-11-26 10:05:00', 'UTC'), toUInt16(0), CAST(NULL AS Nullable(Float64)), toNullable('/cart'), toNullable(toDateTime('2026-11-26 10:05:00', 'UTC')), toUInt16(0), toInt32(0), toInt64(21)
UNION ALL
SELECT 'user_clicks', 'v1', 'u42', 'clicks_24h', toDateTime('2026-11-26 10:05:00', 'UTC'), toUInt16(0), CAST(NULL AS Nullable(Float64)), CAST(NULL AS Nullable(String)), CAST(NULL AS Nullable(DateTime('UTC'))), toUInt16(0), toInt32(0), toInt64(21);

-- The first clicks_1h row again, from a replayed batch.
INSERT INTO ${database}.feature_history (view, version, entity_key, feature, as_of, as_of_ms, value, value_string, event_time, event_time_ms, kafka_partition, kafka_offset)
SELECT 'user_clicks', 'v1', 'u42', 'clicks_1h', toDateTime('2026-11-26 10:00:00', 'UTC'), toUInt16(250), toNullable(toFloat64(3)), CAST(NULL AS Nullable(String)), toNullable(toDateTime('2026-11-26 10:00:00', 'UTC')), toUInt16(250), toInt32(0), toInt64(20);

-- Predictions: p-1 twice (a replay), p-17 (labelled by l1 above), p-3 a
-- shadow, p-4 of another model; none labelled but p-17.
INSERT INTO ${database}.prediction_log (prediction_id, event_time, event_time_ms, model, version, route, shadow, entity_key, feature_names, feature_values, prediction, probabilities, latency_seconds, feature_age_names, feature_age_seconds, logged_time, logged_time_ms, kafka_partition, kafka_offset)
SELECT 'p-1', toDateTime(${now} - 3600, 'UTC'), toUInt16(250), 'churn', toUInt32(3), 'production', toUInt8(0), 'c42', ['orders:amount', 'orders:count_1h'], [toNullable(toFloat64(12.5)), CAST(NULL AS Nullable(Float64))], toFloat64(0.81), CAST([] AS Array(Float64)), toFloat64(0.004), ['orders:amount'], [toFloat64(30)], toDateTime(${now} - 3600, 'UTC'), toUInt16(260), toInt32(0), toInt64(1)
UNION ALL
SELECT 'p-17', toDateTime(${now} - 1800, 'UTC'), toUInt16(0), 'churn', toUInt32(3), 'production', toUInt8(0), 'c42', ['orders:amount', 'orders:count_1h'], [toNullable(toFloat64(3)), toNullable(toFloat64(2))], toFloat64(0.35), CAST([] AS Array(Float64)), toFloat64(0.012), CAST([] AS Array(String)), CAST([] AS Array(Float64)), toDateTime(${now} - 1800, 'UTC'), toUInt16(5), toInt32(0), toInt64(2)
UNION ALL
SELECT 'p-3', toDateTime(${now} - 1700, 'UTC'), toUInt16(0), 'churn', toUInt32(4), 'shadow', toUInt8(1), 'c7', ['orders:amount', 'orders:count_1h'], [toNullable(toFloat64(1)), toNullable(toFloat64(1))], toFloat64(0.1), CAST([] AS Array(Float64)), toFloat64(0.006), CAST([] AS Array(String)), CAST([] AS Array(Float64)), toDateTime(${now} - 1700, 'UTC'), toUInt16(0), toInt32(1), toInt64(1)
UNION ALL
SELECT 'p-4', toDateTime(${now} - 600, 'UTC'), toUInt16(0), 'fraud', toUInt32(1), '', toUInt8(0), 'c7', ['pay:amount'], [toNullable(toFloat64(99))], toFloat64(1), [toFloat64(0.25), toFloat64(0.75)], toFloat64(0.002), CAST([] AS Array(String)), CAST([] AS Array(Float64)), toDateTime(${now} - 600, 'UTC'), toUInt16(0), toInt32(2), toInt64(7);

-- p-1 again, from a replay after a crash.
INSERT INTO ${database}.prediction_log (prediction_id, event_time, event_time_ms, model, version, route, shadow, entity_key, feature_names, feature_values, prediction, probabilities, latency_seconds, feature_age_names, feature_age_seconds, logged_time, logged_time_ms, kafka_partition, kafka_offset)
SELECT 'p-1', toDateTime(${now} - 3600, 'UTC'), toUInt16(250), 'churn', toUInt32(3), 'production', toUInt8(0), 'c42', ['orders:amount', 'orders:count_1h'], [toNullable(toFloat64(12.5)), CAST(NULL AS Nullable(Float64))], toFloat64(0.81), CAST([] AS Array(Float64)), toFloat64(0.004), ['orders:amount'], [toFloat64(30)], toDateTime(${now} - 3600, 'UTC'), toUInt16(260), toInt32(0), toInt64(1);

-- fraud v2 has categorical features (migration 008): p-21 without a country,
-- p-23 older than a day.
INSERT INTO ${database}.prediction_log (prediction_id, event_time, event_time_ms, model, version, route, shadow, entity_key, feature_names, feature_values, categorical_feature_names, categorical_feature_values, prediction, probabilities, latency_seconds, feature_age_names, feature_age_seconds, logged_time, logged_time_ms, kafka_partition, kafka_offset)
SELECT 'p-20', toDateTime(${now} - 7200, 'UTC'), toUInt16(0), 'fraud', toUInt32(2), 'production', toUInt8(0), 'c42', ['pay:amount'], [toNullable(toFloat64(12))], ['pay:country', 'pay:merchant_category'], [toNullable('DE'), toNullable('grocery')], toFloat64(0.05), CAST([] AS Array(Float64)), toFloat64(0.003), CAST([] AS Array(String)), CAST([] AS Array(Float64)), toDateTime(${now} - 7200, 'UTC'), toUInt16(0), toInt32(2), toInt64(20)
UNION ALL
SELECT 'p-21', toDateTime(${now} - 5400, 'UTC'), toUInt16(0), 'fraud', toUInt32(2), 'production', toUInt8(0), 'c7', ['pay:amount'], [toNullable(toFloat64(480))], ['pay:country', 'pay:merchant_category'], [CAST(NULL AS Nullable(String)), toNullable('travel')], toFloat64(0.9), CAST([] AS Array(Float64)), toFloat64(0.003), CAST([] AS Array(String)), CAST([] AS Array(Float64)), toDateTime(${now} - 5400, 'UTC'), toUInt16(0), toInt32(2), toInt64(21)
UNION ALL
SELECT 'p-22', toDateTime(${now} - 3000, 'UTC'), toUInt16(0), 'fraud', toUInt32(2), 'production', toUInt8(0), 'c9', ['pay:amount'], [toNullable(toFloat64(31))], ['pay:country', 'pay:merchant_category'], [toNullable('FR'), toNullable('grocery')], toFloat64(0.15), CAST([] AS Array(Float64)), toFloat64(0.003), CAST([] AS Array(String)), CAST([] AS Array(Float64)), toDateTime(${now} - 3000, 'UTC'), toUInt16(0), toInt32(2), toInt64(22)
UNION ALL
SELECT 'p-23', toDateTime(${now} - 200000, 'UTC'), toUInt16(0), 'fraud', toUInt32(2), 'production', toUInt8(0), 'c9', ['pay:amount'], [toNullable(toFloat64(55))], ['pay:country', 'pay:merchant_category'], [toNullable('FR'), toNullable('travel')], toFloat64(0.7), CAST([] AS Array(Float64)), toFloat64(0.003), CAST([] AS Array(String)), CAST([] AS Array(Float64)), toDateTime(${now} - 200000, 'UTC'), toUInt16(0), toInt32(2), toInt64(23);

-- Drift of churn v3 in the 5 min window an hour ago; the psi row computed
-- twice (the later one, drifted, wins).
INSERT INTO ${database}.drift_metrics (model, version, target, feature, method, window_start, window_size_seconds, window_end, value, p_value, threshold, bound, drifted, skipped, sample_size, computed_ms)
SELECT 'churn', toUInt32(3), 'feature', 'orders:amount', 'psi', toDateTime(intDiv(${now} - 3600, 300) * 300, 'UTC'), toUInt32(300), toDateTime(intDiv(${now} - 3600, 300) * 300 + 300, 'UTC'), toFloat64(0.1), CAST(NULL AS Nullable(Float64)), toFloat64(0.2), toFloat64(0), toUInt8(0), '', toUInt64(150), toUInt64(${now} * 1000 - 3000000)
UNION ALL
SELECT 'churn', toUInt32(3), 'feature', 'orders:amount', 'ks', toDateTime(intDiv(${now} - 3600, 300) * 300, 'UTC'), toUInt32(300), toDateTime(intDiv(${now} - 3600, 300) * 300 + 300, 'UTC'), toFloat64(0.31), toNullable(toFloat64(0.0001)), toFloat64(0.05), toFloat64(0.35), toUInt8(1), '', toUInt64(480), toUInt64(${now} * 1000 - 3000000)
UNION ALL
SELECT 'churn', toUInt32(3), 'feature', 'orders:count_1h', 'psi', toDateTime(intDiv(${now} - 3600, 300) * 300, 'UTC'), toUInt32(300), toDateTime(intDiv(${now} - 3600, 300) * 300 + 300, 'UTC'), toFloat64(0.05), CAST(NULL AS Nullable(Float64)), toFloat64(0.2), toFloat64(0), toUInt8(0), '', toUInt64(480), toUInt64(${now} * 1000 - 3000000)
UNION ALL
SELECT 'churn', toUInt32(3), 'prediction', '', 'psi', toDateTime(intDiv(${now} - 3600, 300) * 300, 'UTC'), toUInt32(300), toDateTime(intDiv(${now} - 3600, 300) * 300 + 300, 'UTC'), toFloat64(0.25), CAST(NULL AS Nullable(Float64)), toFloat64(0.2), toFloat64(0), toUInt8(1), '', toUInt64(500), toUInt64(${now} * 1000 - 3000000);

INSERT INTO ${database}.drift_metrics (model, version, target, feature, method, window_start, window_size_seconds, window_end, value, p_value, threshold, bound, drifted, skipped, sample_size, computed_ms)
SELECT 'churn', toUInt32(3), 'feature', 'orders:amount', 'psi', toDateTime(intDiv(${now} - 3600, 300) * 300, 'UTC'), toUInt32(300), toDateTime(intDiv(${now} - 3600, 300) * 300 + 300, 'UTC'), toFloat64(0.42), CAST(NULL AS Nullable(Float64)), toFloat64(0.2), toFloat64(0), toUInt8(1), '', toUInt64(480), toUInt64(${now} * 1000 - 2000000);

INSERT INTO ${database}.data_quality (model, version, target, feature, window_start, window_size_seconds, window_end, total, missing, missing_share, below_range, above_range, out_of_range_share, unseen, unseen_share, breaches, computed_ms)
SELECT 'churn', toUInt32(3), 'feature', 'orders:count_1h', toDateTime(intDiv(${now} - 3600, 300) * 300, 'UTC'), toUInt32(300), toDateTime(intDiv(${now} - 3600, 300) * 300 + 300, 'UTC'), toUInt64(500), toUInt64(100), toFloat64(0.2), toUInt64(0), toUInt64(0), toFloat64(0), toUInt64(0), toFloat64(0), ['missing_share'], toUInt64(${now} * 1000 - 2000000)
UNION ALL
SELECT 'churn', toUInt32(3), 'feature', 'orders:amount', toDateTime(intDiv(${now} - 3600, 300) * 300, 'UTC'), toUInt32(300), toDateTime(intDiv(${now} - 3600, 300) * 300 + 300, 'UTC'), toUInt64(500), toUInt64(20), toFloat64(0.04), toUInt64(0), toUInt64(40), toFloat64(0.0833), toUInt64(0), toFloat64(0), ['out_of_range_share'], toUInt64(${now} * 1000 - 2000000);

-- Labels the monitor consumed: ml1 judges p-17 (joined), ml2 is for c7 by
-- entity and found no prediction yet (pending); ml1 again from a replay.
INSERT INTO ${database}.monitor_labels (label_id, stream, entity_key, event_time, event_time_ms, value, prediction_id, ingest_time, ingest_time_ms, kafka_partition, kafka_offset)
SELECT 'crm/ml1', 'churned', 'c42', toDateTime(${now} - 900, 'UTC'), toUInt16(0), toFloat64(1), 'p-17', toDateTime(${now} - 880, 'UTC'), toUInt16(5), toInt32(0), toInt64(3)
UNION ALL
SELECT 'crm/ml2', 'churned', 'c7', toDateTime(${now} - 800, 'UTC'), toUInt16(0), toFloat64(0), '', toDateTime(${now} - 790, 'UTC'), toUInt16(0), toInt32(0), toInt64(4)
UNION ALL
SELECT 'crm/ml1', 'churned', 'c42', toDateTime(${now} - 900, 'UTC'), toUInt16(0), toFloat64(1), 'p-17', toDateTime(${now} - 880, 'UTC'), toUInt16(5), toInt32(0), toInt64(3);

-- p-17 labelled (twice: a replayed join; FINAL keeps one).
INSERT INTO ${database}.prediction_labels (prediction_id, model, version, route, entity_key, prediction_time, prediction_time_ms, prediction, label, label_id, label_time, joined_by, attribute, attribute_value, label_ingest_ms)
SELECT 'p-17', 'churn', toUInt32(3), 'production', 'c42', toDateTime(${now} - 1800, 'UTC'), toUInt16(0), toFloat64(0.35), toFloat64(1), 'crm/ml1', toDateTime(${now} - 900, 'UTC'), 'prediction_id', 'orders:count_1h', '2', toUInt64(${now} * 1000 - 880000)
UNION ALL
SELECT 'p-17', 'churn', toUInt32(3), 'production', 'c42', toDateTime(${now} - 1800, 'UTC'), toUInt16(0), toFloat64(0.35), toFloat64(1), 'crm/ml1', toDateTime(${now} - 900, 'UTC'), 'prediction_id', 'orders:count_1h', '2', toUInt64(${now} * 1000 - 880000);

-- Performance of churn in the hour window of an hour ago: v3 on production
-- computed twice (the later one, with more labels and a breach, wins), v4
-- on canary.
INSERT INTO ${database}.model_performance (model, version, route, window_start, window_size_seconds, window_end, task, predictions, labelled, unlabelled, positives, decision_threshold, accuracy, precision, recall, f1, auc, log_loss, mae, rmse, breaches, computed_ms)
SELECT 'churn', toUInt32(3), 'production', toDateTime(intDiv(${now} - 3600, 3600) * 3600, 'UTC'), toUInt32(3600), toDateTime(intDiv(${now} - 3600, 3600) * 3600 + 3600, 'UTC'), 'classification', toUInt64(1000), toUInt64(200), toUInt64(800), toUInt64(50), toFloat64(0.5), toNullable(toFloat64(0.9)), toNullable(toFloat64(0.8)), toNullable(toFloat64(0.7)), toNullable(toFloat64(0.75)), toNullable(toFloat64(0.88)), toNullable(toFloat64(0.3)), CAST(NULL AS Nullable(Float64)), CAST(NULL AS Nullable(Float64)), CAST([] AS Array(String)), toUInt64(${now} * 1000 - 3000000)
UNION ALL
SELECT 'churn', toUInt32(4), 'canary', toDateTime(intDiv(${now} - 3600, 3600) * 3600, 'UTC'), toUInt32(3600), toDateTime(intDiv(${now} - 3600, 3600) * 3600 + 3600, 'UTC'), 'classification', toUInt64(100), toUInt64(40), toUInt64(60), toUInt64(10), toFloat64(0.5), toNullable(toFloat64(0.85)), toNullable(toFloat64(0.6)), toNullable(toFloat64(0.6)), toNullable(toFloat64(0.6)), toNullable(toFloat64(0.8)), toNullable(toFloat64(0.4)), CAST(NULL AS Nullable(Float64)), CAST(NULL AS Nullable(Float64)), CAST([] AS Array(String)), toUInt64(${now} * 1000 - 3000000);

INSERT INTO ${database}.model_performance (model, version, route, window_start, window_size_seconds, window_end, task, predictions, labelled, unlabelled, positives, decision_threshold, accuracy, precision, recall, f1, auc, log_loss, mae, rmse, breaches, computed_ms)
SELECT 'churn', toUInt32(3), 'production', toDateTime(intDiv(${now} - 3600, 3600) * 3600, 'UTC'), toUInt32(3600), toDateTime(intDiv(${now} - 3600, 3600) * 3600 + 3600, 'UTC'), 'classification', toUInt64(1000), toUInt64(400), toUInt64(600), toUInt64(100), toFloat64(0.5), toNullable(toFloat64(0.8)), toNullable(toFloat64(0.7)), toNullable(toFloat64(0.6)), toNullable(toFloat64(0.65)), toNullable(toFloat64(0.68)), toNullable(toFloat64(0.5)), CAST(NULL AS Nullable(Float64)), CAST(NULL AS Nullable(Float64)), ['auc'], toUInt64(${now} * 1000 - 2000000);

-- Fairness of churn v3 by orders:count_1h in the same window.
INSERT INTO ${database}.fairness_metrics (model, version, route, attribute, group_value, window_start, window_size_seconds, window_end, predictions, positive_rate, labelled, accuracy, true_positive_rate, false_positive_rate, demographic_parity_difference, equalized_odds_difference, breaches, computed_ms)
SELECT 'churn', toUInt32(3), 'production', 'orders:count_1h', '1', toDateTime(intDiv(${now} - 3600, 3600) * 3600, 'UTC'), toUInt32(3600), toDateTime(intDiv(${now} - 3600, 3600) * 3600 + 3600, 'UTC'), toUInt64(600), toFloat64(0.25), toUInt64(240), toNullable(toFloat64(0.8)), toNullable(toFloat64(0.5)), toNullable(toFloat64(0.1)), toFloat64(0.15), toNullable(toFloat64(0.2)), ['demographic_parity_difference', 'equalized_odds_difference'], toUInt64(${now} * 1000 - 2000000)
UNION ALL
SELECT 'churn', toUInt32(3), 'production', 'orders:count_1h', '2', toDateTime(intDiv(${now} - 3600, 3600) * 3600, 'UTC'), toUInt32(3600), toDateTime(intDiv(${now} - 3600, 3600) * 3600 + 3600, 'UTC'), toUInt64(400), toFloat64(0.1), toUInt64(160), toNullable(toFloat64(0.8)), toNullable(toFloat64(0.3)), toNullable(toFloat64(0.05)), toFloat64(0.15), toNullable(toFloat64(0.2)), ['demographic_parity_difference', 'equalized_odds_difference'], toUInt64(${now} * 1000 - 2000000);
