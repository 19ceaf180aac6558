package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// migrateTestDatabase returns a unique database name on the real ClickHouse
// at TRIBUTARY_CLICKHOUSE_ADDR, dropped at the end of the test.
func migrateTestDatabase(t *testing.T) string {
	t.Helper()
	addr := testkit.ClickHouseAddr(t)
	conn, err := chx.Open(chx.Config{Addr: addr, Username: "default", DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := chx.Check(conn)(ctx); err != nil {
		t.Fatalf("ClickHouse is not reachable at %s (set TRIBUTARY_CLICKHOUSE_ADDR): %v", addr, err)
	}
	db := fmt.Sprintf("test_cli_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("drop test database %s: %v", db, err)
		}
		if err := conn.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestMigrateCommand(t *testing.T) {
	db := migrateTestDatabase(t)
	ctx := context.Background()

	var stdout, stderr bytes.Buffer
	start := time.Now()
	if code := run(ctx, []string{"migrate", "-clickhouse.database=" + db}, &stdout, &stderr); code != 0 {
		t.Fatalf("first migrate exited %d: %s", code, stderr.String())
	}
	t.Logf("migrate from scratch: %v", time.Since(start))
	out := stdout.String()
	for _, want := range []string{"applied 001_events.sql\n", "applied 002_labels.sql\n", "database " + db + " migrated: "} {
		if !strings.Contains(out, want) {
			t.Errorf("first migrate printed %q, want it to contain %q", out, want)
		}
	}

	// Again, the database named by its environment variable this time.
	t.Setenv("TRIBUTARY_CLICKHOUSE_DATABASE", db)
	stdout.Reset()
	if code := run(ctx, []string{"migrate"}, &stdout, &stderr); code != 0 {
		t.Fatalf("second migrate exited %d: %s", code, stderr.String())
	}
	if out := stdout.String(); !strings.HasPrefix(out, "database "+db+" is up to date") || strings.Contains(out, "applied") {
		t.Errorf("second migrate printed %q, want only that %s is up to date", out, db)
	}
}

func TestMigrateCommandErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"bad database name", []string{"migrate", "-clickhouse.database=a.b"}, 1, "clickhouse.database"},
		{"unknown flag", []string{"migrate", "-nope"}, 1, "flag provided but not defined: -nope"},
		{"extra argument", []string{"migrate", "now"}, 1, "unexpected arguments"},
		{"bad timeout", []string{"migrate", "-timeout=0s"}, 1, "-timeout"},
		{"help", []string{"migrate", "-h"}, 0, "Usage: tributary migrate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestMigrateCommandUnreachable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	// A port nothing listens on.
	code := run(context.Background(), []string{"migrate", "-clickhouse.addr=127.0.0.1:1", "-clickhouse.dial-timeout=1s"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "127.0.0.1:1") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming the address", code, stderr.String())
	}
}
