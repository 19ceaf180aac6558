package schemas_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/schemas"
)

// testConn connects to the real ClickHouse at TRIBUTARY_CLICKHOUSE_ADDR and
// returns a connection and the name of a fresh database, dropped at the end.
func testConn(t *testing.T) (driver.Conn, string) {
	t.Helper()
	addr := testkit.ClickHouseAddr(t)
	cfg := chx.Config{Addr: addr, Database: "default", Username: "default", DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	conn, err := chx.Open(cfg)
	if err != nil {
		t.Fatalf("open clickhouse: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := chx.Check(conn)(ctx); err != nil {
		t.Fatalf("ClickHouse is not reachable at %s (set TRIBUTARY_CLICKHOUSE_ADDR): %v", addr, err)
	}
	db := fmt.Sprintf("test_schemas_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("drop test database %s: %v", db, err)
		}
		if err := conn.Close(); err != nil {
			t.Errorf("close clickhouse: %v", err)
		}
	})
	return conn, db
}

// queryStrings runs a query returning one String column.
func queryStrings(t *testing.T, conn driver.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

func TestClickHouseMigrationFiles(t *testing.T) {
	ms, err := chx.LoadMigrations(schemas.ClickHouseMigrations())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.File)
		if !strings.Contains(m.SQL, chx.DatabasePlaceholder+".") {
			t.Errorf("%s does not name its tables with %s", m.File, chx.DatabasePlaceholder)
		}
	}
	if len(got) < 2 || got[0] != "001_events.sql" || got[1] != "002_labels.sql" {
		t.Errorf("migrations = %v, want 001_events.sql, 002_labels.sql first", got)
	}
}

// TestClickHouseMigrationsConcurrent applies the whole set from scratch from
// two migrators at once, as replicas of a service do at start.
func TestClickHouseMigrationsConcurrent(t *testing.T) {
	conn, db := testConn(t)
	ctx := context.Background()
	migrations := schemas.ClickHouseMigrations()
	want, err := chx.LoadMigrations(migrations)
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = chx.Migrate(ctx, conn, db, migrations, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrator %d: %v", i, err)
		}
	}

	tables := queryStrings(t, conn, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", db)
	if got := strings.Join(tables, ","); got != "data_quality,drift_metrics,events,fairness_metrics,feature_history,labels,model_performance,monitor_labels,prediction_labels,prediction_log,schema_migrations" {
		t.Errorf("tables = %s, want events,feature_history,labels,schema_migrations", got)
	}
	// Both migrators may have recorded a version; FINAL shows each once.
	recorded := queryStrings(t, conn, "SELECT concat(toString(version), ' ', name, ' ', checksum) FROM "+db+".schema_migrations FINAL ORDER BY version")
	var wantRecorded []string
	for _, m := range want {
		wantRecorded = append(wantRecorded, fmt.Sprintf("%d %s %s", m.Version, m.Name, m.Checksum))
	}
	if !reflect.DeepEqual(recorded, wantRecorded) {
		t.Errorf("schema_migrations FINAL =\n%q\nwant\n%q", recorded, wantRecorded)
	}

	applied, err := chx.Migrate(ctx, conn, db, migrations, nil)
	if err != nil || len(applied) != 0 {
		t.Fatalf("third migrate applied %d migrations, err %v; want none", len(applied), err)
	}
}

// TestClickHouseStatementsRerunnable runs every statement of every migration
// a second time: none may fail or change the schema, since a migration
// interrupted half-way runs again from its first statement. An ADD COLUMN
// may fail only as the migrator accepts (chx.ColumnAlreadyAdded).
func TestClickHouseStatementsRerunnable(t *testing.T) {
	conn, db := testConn(t)
	ctx := context.Background()
	if _, err := chx.Migrate(ctx, conn, db, schemas.ClickHouseMigrations(), nil); err != nil {
		t.Fatal(err)
	}
	schema := func() []string {
		return queryStrings(t, conn, "SELECT concat(table, '.', name, ' ', type, ' ', comment) FROM system.columns WHERE database = ? ORDER BY table, name", db)
	}
	before := schema()
	ms, err := chx.LoadMigrations(schemas.ClickHouseMigrations())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		stmts, err := m.Statements(db)
		if err != nil {
			t.Fatal(err)
		}
		for i, stmt := range stmts {
			if err := conn.Exec(ctx, stmt); err != nil && !chx.ColumnAlreadyAdded(stmt, err) {
				t.Errorf("%s statement %d run again: %v", m.File, i+1, err)
			}
		}
	}
	if after := schema(); !reflect.DeepEqual(before, after) {
		t.Errorf("schema changed by running the statements again:\nbefore %q\nafter  %q", before, after)
	}
}

// TestClickHouseColumnsDocumented checks that every column has a comment for
// analysts (system.columns) and is described in schemas/clickhouse/README.md.
func TestClickHouseColumnsDocumented(t *testing.T) {
	conn, db := testConn(t)
	if _, err := chx.Migrate(context.Background(), conn, db, schemas.ClickHouseMigrations(), nil); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("clickhouse/README.md")
	if err != nil {
		t.Fatal(err)
	}
	columns := queryStrings(t, conn, "SELECT concat(table, '.', name, '.', comment) FROM system.columns WHERE database = ? AND table != 'schema_migrations'", db)
	if len(columns) == 0 {
		t.Fatal("no columns")
	}
	for _, c := range columns {
		parts := strings.SplitN(c, ".", 3)
		table, column, comment := parts[0], parts[1], parts[2]
		if comment == "" {
			t.Errorf("column %s.%s has no COMMENT", table, column)
		}
		if !strings.Contains(string(readme), "| `"+column+"` |") {
			t.Errorf("column %s.%s is not in the table of clickhouse/README.md", table, column)
		}
	}
	for _, table := range []string{"events", "labels", "feature_history", "prediction_log", "drift_metrics", "data_quality"} {
		if !strings.Contains(string(readme), "### `"+table+"`") {
			t.Errorf("table %s has no section in clickhouse/README.md", table)
		}
	}
}

type eventRow struct {
	Stream, EventID, Source, Type, EntityKey string
	EventTime                                time.Time
	EventTimeMs                              uint16
	IngestTime                               time.Time
	IngestTimeMs                             uint16
	Partition                                int32
	Offset                                   int64
	Data                                     string
}

type labelRow struct {
	Stream, EventID, Source, EntityKey string
	EventTime                          time.Time
	EventTimeMs                        uint16
	Value                              float64
	PredictionID                       string
	IngestTime                         time.Time
	IngestTimeMs                       uint16
	Partition                          int32
	Offset                             int64
	Data                               string
}

// TestClickHouseInsertAndRead proves the tables usable the way the services
// will use them on 18.16: PrepareBatch with an explicit column list, and reads
// with FINAL that see a replayed event once.
func TestClickHouseInsertAndRead(t *testing.T) {
	conn, db := testConn(t)
	ctx := context.Background()
	if _, err := chx.Migrate(ctx, conn, db, schemas.ClickHouseMigrations(), nil); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ingest := t0.Add(90 * time.Second)
	events := []eventRow{
		{"orders", "e1", "shop", "com.example.order.placed.v1", "c1", t0, 125, ingest, 7, 0, 10, `{"amount":12.5}`},
		{"orders", "e2", "shop", "com.example.order.placed.v1", "c1", t0.Add(time.Second), 0, ingest, 8, 1, 11, `{"amount":3,"note":"it's; fine"}`},
		{"orders", "e3", "shop", "com.example.order.placed.v1", "c2", t0.Add(-40 * 24 * time.Hour), 999, ingest, 9, 0, 12, `{"amount":1}`},
	}
	insertEvents := func(rows ...eventRow) {
		t.Helper()
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".events (stream, event_id, source, type, entity_key, event_time, event_time_ms, ingest_time, ingest_time_ms, kafka_partition, kafka_offset, data)")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if err := batch.Append(r.Stream, r.EventID, r.Source, r.Type, r.EntityKey, r.EventTime, r.EventTimeMs, r.IngestTime, r.IngestTimeMs, r.Partition, r.Offset, r.Data); err != nil {
				t.Fatal(err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatal(err)
		}
	}
	insertEvents(events...)
	// A replay of e1 from another offset after a crash: the same event again.
	replay := events[0]
	replay.Offset, replay.IngestTime = 99, ingest.Add(time.Minute)
	insertEvents(replay)

	var got []eventRow
	rows, err := conn.Query(ctx, "SELECT stream, event_id, source, type, entity_key, event_time, event_time_ms, ingest_time, ingest_time_ms, kafka_partition, kafka_offset, data FROM "+db+".events FINAL WHERE stream = ? ORDER BY entity_key, event_time, event_time_ms", "orders")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r eventRow
		if err := rows.Scan(&r.Stream, &r.EventID, &r.Source, &r.Type, &r.EntityKey, &r.EventTime, &r.EventTimeMs, &r.IngestTime, &r.IngestTimeMs, &r.Partition, &r.Offset, &r.Data); err != nil {
			t.Fatal(err)
		}
		r.EventTime, r.IngestTime = r.EventTime.UTC(), r.IngestTime.UTC()
		got = append(got, r)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("events FINAL has %d rows, want 3 (the replay collapsed): %+v", len(got), got)
	}
	for i, r := range got {
		w := events[i]
		if r.EventID == "e1" {
			w = replay // the last insert of a duplicate wins
		}
		if !reflect.DeepEqual(r, w) {
			t.Errorf("events row %d =\n%+v\nwant\n%+v", i, r, w)
		}
	}
	// Two monthly partitions: e3 is 40 days older.
	parts := queryStrings(t, conn, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = 'events' AND active ORDER BY partition", db)
	if strings.Join(parts, ",") != "202610,202611" {
		t.Errorf("events partitions = %v, want 202610,202611", parts)
	}

	labels := []labelRow{
		{"churned", "l1", "crm", "c1", t0, 500, 1, "p-17", ingest, 1, 0, 3, `{"stream":"churned","entity_key":"c1","value":1,"prediction_id":"p-17"}`},
		{"churned", "l2", "crm", "c2", t0, 0, 0, "", ingest, 2, 0, 4, `{"stream":"churned","entity_key":"c2","value":0}`},
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".labels (stream, event_id, source, entity_key, event_time, event_time_ms, value, prediction_id, ingest_time, ingest_time_ms, kafka_partition, kafka_offset, data)")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range append(labels, labels[1]) { // l2 twice
		if err := batch.Append(r.Stream, r.EventID, r.Source, r.EntityKey, r.EventTime, r.EventTimeMs, r.Value, r.PredictionID, r.IngestTime, r.IngestTimeMs, r.Partition, r.Offset, r.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	var gotLabels []labelRow
	rows, err = conn.Query(ctx, "SELECT stream, event_id, source, entity_key, event_time, event_time_ms, value, prediction_id, ingest_time, ingest_time_ms, kafka_partition, kafka_offset, data FROM "+db+".labels FINAL WHERE stream = ? ORDER BY entity_key", "churned")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r labelRow
		if err := rows.Scan(&r.Stream, &r.EventID, &r.Source, &r.EntityKey, &r.EventTime, &r.EventTimeMs, &r.Value, &r.PredictionID, &r.IngestTime, &r.IngestTimeMs, &r.Partition, &r.Offset, &r.Data); err != nil {
			t.Fatal(err)
		}
		r.EventTime, r.IngestTime = r.EventTime.UTC(), r.IngestTime.UTC()
		gotLabels = append(gotLabels, r)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotLabels, labels) {
		t.Errorf("labels FINAL =\n%+v\nwant\n%+v", gotLabels, labels)
	}
}
