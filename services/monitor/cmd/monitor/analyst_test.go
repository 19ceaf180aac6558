package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/schemas"
)

// TestAnalystUserReadOnly starts a ClickHouse of its own with
// deploy/local/infra.sh (on free ports, in its own data directory) and
// proves its analyst user: it can SELECT the monitor's tables and cannot
// insert, drop, create, or read another database.
func TestAnalystUserReadOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a ClickHouse server")
	}
	port := testkit.FreePort(t)
	env := append(os.Environ(),
		"TRIBUTARY_DATA_DIR="+t.TempDir(),
		"TRIBUTARY_CLICKHOUSE_PORT="+strconv.Itoa(port),
		"TRIBUTARY_CLICKHOUSE_HTTP_PORT="+strconv.Itoa(testkit.FreePort(t)),
		"TRIBUTARY_CLICKHOUSE_ANALYST_PASSWORD=s3cret",
	)
	infra := func(action string) {
		t.Helper()
		cmd := exec.Command(filepath.Join("..", "..", "..", "..", "deploy", "local", "infra.sh"), action, "clickhouse")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("infra.sh %s clickhouse: %v\n%s", action, err, out)
		}
	}
	infra("up")
	t.Cleanup(func() { infra("down") })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	open := func(user, password, database string) driver.Conn {
		t.Helper()
		// chx.Open connects to the database default, which the analyst
		// may not use: open the way an analyst's client does.
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: database, Username: user, Password: password}, DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	ctx := context.Background()
	admin := open("default", "", "default")
	testkit.EventuallyContext(t, 30*time.Second, func(ctx context.Context) error { return admin.Ping(ctx) })
	if _, err := chx.Migrate(ctx, admin, "tributary", schemas.ClickHouseMigrations(), nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"INSERT INTO tributary.drift_metrics (model, version, target, feature, method, window_start, window_size_seconds, window_end, value, threshold, drifted, sample_size, computed_ms) SELECT 'churn', 1, 'feature', 'v:x', 'psi', now(), 300, now(), 0.3, 0.2, 1, 500, 1",
		"CREATE DATABASE IF NOT EXISTS private",
		"CREATE TABLE IF NOT EXISTS private.t (x UInt8) ENGINE = MergeTree ORDER BY x",
	} {
		if err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	analyst := open("analyst", "s3cret", "tributary")
	if err := testkit.Poll(ctx, 10*time.Second, func(ctx context.Context) error { return analyst.Ping(ctx) }); err != nil {
		t.Fatalf("analyst cannot connect: %v", err)
	}
	var n uint64
	if err := analyst.QueryRow(ctx, "SELECT count() FROM tributary.drift_metrics FINAL WHERE drifted = 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("analyst SELECT: %d rows, error %v", n, err)
	}
	for _, table := range []string{"prediction_log", "data_quality", "labels", "events"} {
		if err := analyst.QueryRow(ctx, "SELECT count() FROM tributary."+table).Scan(&n); err != nil {
			t.Errorf("analyst SELECT %s: %v", table, err)
		}
	}
	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("analyst could %s", what)
		}
	}
	refused("insert with INSERT ... SELECT", analyst.Exec(ctx, "INSERT INTO tributary.drift_metrics (model) SELECT 'x'"))
	if b, err := analyst.PrepareBatch(ctx, "INSERT INTO tributary.drift_metrics (model)"); err == nil {
		if err := b.Append("x"); err == nil {
			err = b.Send()
			refused("insert with a batch", err)
		}
	}
	refused("drop a table", analyst.Exec(ctx, "DROP TABLE tributary.drift_metrics"))
	refused("truncate a table", analyst.Exec(ctx, "TRUNCATE TABLE tributary.prediction_log"))
	refused("delete rows", analyst.Exec(ctx, "ALTER TABLE tributary.prediction_log DELETE WHERE 1"))
	refused("create a table", analyst.Exec(ctx, "CREATE TABLE tributary.mine (x UInt8) ENGINE = Memory"))
	refused("read another database", analyst.QueryRow(ctx, "SELECT count() FROM private.t").Scan(&n))
	refused("change a setting", analyst.Exec(ctx, "SET readonly = 0"))
	refused("connect with a wrong password", open("analyst", "wrong", "tributary").Ping(ctx))
	refused("connect to another database", open("analyst", "s3cret", "default").Ping(ctx))

	// Nothing changed.
	if err := admin.QueryRow(ctx, "SELECT count() FROM tributary.drift_metrics").Scan(&n); err != nil || n != 1 {
		t.Errorf("drift_metrics after the analyst: %d rows, error %v", n, err)
	}
}
