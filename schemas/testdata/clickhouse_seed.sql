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
