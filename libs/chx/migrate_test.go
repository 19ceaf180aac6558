package chx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/testkit"
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
	db := fmt.Sprintf("test_chx_%d", time.Now().UnixNano())
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

func files(kv ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 0; i < len(kv); i += 2 {
		fsys[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return fsys
}

func fileNames(ms []chx.Migration) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.File)
	}
	return out
}

func TestLoadMigrations(t *testing.T) {
	ms, err := chx.LoadMigrations(files(
		"002_b.sql", "SELECT 2",
		"README.md", "not a migration",
		"001_a.sql", "SELECT 1",
		"notes.txt", "ignored",
	))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fileNames(ms), ","); got != "001_a.sql,002_b.sql" {
		t.Errorf("files = %s, want 001_a.sql,002_b.sql", got)
	}
	// sha256 of "SELECT 1".
	if want := "e004ebd5b5532a4b85984a62f8ad48a81aa3460c1ca07701f386135d72cdecf5"; ms[0].Checksum != want {
		t.Errorf("checksum = %s, want %s", ms[0].Checksum, want)
	}
	if ms[1].Version != 2 || ms[1].Name != "b" {
		t.Errorf("second migration = %d %q, want 2 \"b\"", ms[1].Version, ms[1].Name)
	}
}

func TestLoadMigrationsErrors(t *testing.T) {
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		wantErr string
	}{
		{"bad name", files("001_a.sql", "SELECT 1", "2_b.sql", "SELECT 2"), `"2_b.sql"`},
		{"duplicate version", files("001_a.sql", "SELECT 1", "001_b.sql", "SELECT 2"), "duplicate version 001"},
		{"gap", files("001_a.sql", "SELECT 1", "003_c.sql", "SELECT 3"), "003_c.sql: version 002 is missing"},
		{"does not start at 001", files("002_b.sql", "SELECT 2"), "002_b.sql: version 001 is missing"},
		{"unknown placeholder", files("001_a.sql", "CREATE TABLE ${db}.t"), "001_a.sql: unknown placeholder ${db}"},
		{"unterminated string", files("001_a.sql", "SELECT 1;\nSELECT 'x"), "001_a.sql: line 2: unterminated string literal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := chx.LoadMigrations(tt.fsys)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadMigrations error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMigrationStatements(t *testing.T) {
	m := chx.Migration{File: "001_a.sql", SQL: "CREATE TABLE IF NOT EXISTS ${database}.t (s String) ENGINE = Memory;\n-- ${database} in a comment\nSELECT '${database}';"}
	got, err := m.Statements("prod")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CREATE TABLE IF NOT EXISTS prod.t (s String) ENGINE = Memory",
		"-- prod in a comment\nSELECT 'prod'",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Statements = %q, want %q", got, want)
	}
}

func TestMigrateRejectsBadDatabaseName(t *testing.T) {
	for _, db := range []string{"", "a.b", "x; DROP DATABASE y", "1abc", "a-b"} {
		_, err := chx.Migrate(context.Background(), nil, db, files("001_a.sql", "SELECT 1"), nil)
		if err == nil || !strings.Contains(err.Error(), "not a plain identifier") {
			t.Errorf("Migrate(database %q) error = %v, want 'not a plain identifier'", db, err)
		}
	}
}

const (
	createA = "CREATE TABLE IF NOT EXISTS ${database}.a (s String) ENGINE = MergeTree ORDER BY s;\n"
	createB = "CREATE TABLE IF NOT EXISTS ${database}.b (s String) ENGINE = MergeTree ORDER BY s;\n" +
		"CREATE TABLE IF NOT EXISTS ${database}.b2 (s String) ENGINE = MergeTree ORDER BY s;\n"
)

func TestMigrate(t *testing.T) {
	conn, db := testConn(t)
	ctx := context.Background()

	applied, err := chx.Migrate(ctx, conn, db, files("001_a.sql", createA), nil)
	if err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	if got := strings.Join(fileNames(applied), ","); got != "001_a.sql" {
		t.Fatalf("first migrate applied %q, want 001_a.sql", got)
	}
	assertTables(t, conn, db, "a", "schema_migrations")

	applied, err = chx.Migrate(ctx, conn, db, files("001_a.sql", createA), nil)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migrate applied %q, %v; want nothing, no error", fileNames(applied), err)
	}

	applied, err = chx.Migrate(ctx, conn, db, files("001_a.sql", createA, "002_b.sql", createB), nil)
	if err != nil {
		t.Fatalf("migrate with a new file: %v", err)
	}
	if got := strings.Join(fileNames(applied), ","); got != "002_b.sql" {
		t.Fatalf("migrate with a new file applied %q, want 002_b.sql", got)
	}
	assertTables(t, conn, db, "a", "b", "b2", "schema_migrations")

	// The record: one row per version, with the file's checksum.
	ms, err := chx.LoadMigrations(files("001_a.sql", createA, "002_b.sql", createB))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT version, name, checksum, applied_at FROM "+db+".schema_migrations FINAL ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	for rows.Next() {
		var (
			v             uint32
			name, sum     string
			appliedAt     time.Time
			wantMigration = ms[n]
		)
		if err := rows.Scan(&v, &name, &sum, &appliedAt); err != nil {
			t.Fatal(err)
		}
		if int(v) != wantMigration.Version || name != wantMigration.Name || sum != wantMigration.Checksum {
			t.Errorf("row %d = %d %s %s, want %d %s %s", n, v, name, sum, wantMigration.Version, wantMigration.Name, wantMigration.Checksum)
		}
		if time.Since(appliedAt) > time.Hour || time.Until(appliedAt) > time.Minute {
			t.Errorf("applied_at = %v, not now", appliedAt)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("schema_migrations has %d rows, want 2", n)
	}

	t.Run("edited migration", func(t *testing.T) {
		_, err := chx.Migrate(ctx, conn, db, files("001_a.sql", createA+"-- an edit\n", "002_b.sql", createB), nil)
		if err == nil || !strings.Contains(err.Error(), "001_a.sql") || !strings.Contains(err.Error(), "changed since it was applied") {
			t.Fatalf("error = %v, want one naming 001_a.sql as changed", err)
		}
	})
	t.Run("renamed migration", func(t *testing.T) {
		_, err := chx.Migrate(ctx, conn, db, files("001_a.sql", createA, "002_bee.sql", createB), nil)
		if err == nil || !strings.Contains(err.Error(), "002_bee.sql") {
			t.Fatalf("error = %v, want one naming 002_bee.sql", err)
		}
	})
	t.Run("older release", func(t *testing.T) {
		// A database migrated by a newer release: this release knows only 001.
		applied, err := chx.Migrate(ctx, conn, db, files("001_a.sql", createA), nil)
		if err != nil || len(applied) != 0 {
			t.Fatalf("migrate = %q, %v; want nothing applied, no error", fileNames(applied), err)
		}
	})
}

func TestMigrateFailingStatement(t *testing.T) {
	conn, db := testConn(t)
	ctx := context.Background()
	bad := createA + "CREATE TABLE IF NOT EXISTS ${database}.broken (s String) ENGINE = NoSuchEngine;\n"

	_, err := chx.Migrate(ctx, conn, db, files("001_a.sql", bad), nil)
	if err == nil || !strings.Contains(err.Error(), "001_a.sql, statement 2") {
		t.Fatalf("error = %v, want one naming 001_a.sql, statement 2", err)
	}
	// The failed migration is not recorded, so a fixed file applies, and its
	// first statement, which did run, runs again harmlessly.
	applied, err := chx.Migrate(ctx, conn, db, files("001_a.sql", createA), nil)
	if err != nil || len(applied) != 1 {
		t.Fatalf("migrate the fixed file = %q, %v; want 001_a.sql applied", fileNames(applied), err)
	}
}

// assertTables checks that db holds exactly the given tables.
func assertTables(t *testing.T, conn driver.Conn, db string, want ...string) {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT name FROM system.tables WHERE database = ? ORDER BY name", db)
	if err != nil {
		t.Fatalf("list tables of %s: %v", db, err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("list tables of %s: %v", db, err)
		}
		got = append(got, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list tables of %s: %v", db, err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("tables of %s = %v, want %v", db, got, want)
	}
}
