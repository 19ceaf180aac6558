// Package chxtest gives a test a ClickHouse database of its own on the
// tests' server (testkit.ClickHouseAddr), dropped when the test ends.
package chxtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/schemas"
)

// Database returns a connection to the tests' ClickHouse (to its database
// "default": name tables as db.table) and a database name of its own,
// prefix followed by a random suffix. The database is dropped, and then
// the connection closed, when the test ends. Nothing is created: the
// service under test migrates it, or use Migrated.
func Database(t testing.TB, prefix string) (conn driver.Conn, db string) {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	db = prefix + hex.EncodeToString(b[:])
	conn, err := chx.Open(chx.Config{Addr: testkit.ClickHouseAddr(t), Database: "default", Username: "default", DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatalf("clickhouse: %v", err)
	}
	// Cleanups run last in, first out: the drop before the close.
	t.Cleanup(func() { _ = conn.Close() })
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	return conn, db
}

// Migrated is Database with the platform's migrations applied to db.
func Migrated(t testing.TB, prefix string) (conn driver.Conn, db string) {
	t.Helper()
	conn, db = Database(t, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := chx.Migrate(ctx, conn, db, schemas.ClickHouseMigrations(), nil); err != nil {
		t.Fatalf("migrate %s: %v", db, err)
	}
	return conn, db
}
