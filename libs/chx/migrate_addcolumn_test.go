package chx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/tributary-ml/tributary/libs/chx"
)

func TestColumnAlreadyAdded(t *testing.T) {
	const add = "-- adds c\nALTER TABLE db.t ADD COLUMN c Array(Nullable(String)) AFTER b"
	exists1816 := &proto.Exception{Code: 44, Message: "Cannot add column c: column with this name already exists"}
	existsChdb := errors.New("Code: 15. DB::Exception: Cannot add column `c`: column with this name already exists. (DUPLICATE_COLUMN)")
	for _, tt := range []struct {
		name string
		stmt string
		err  error
		want bool
	}{
		{"18.16 exception", add, exists1816, true},
		{"current release text", add, existsChdb, true},
		{"wrapped", add, errors.Join(errors.New("exec"), exists1816), true},
		{"no error", add, nil, false},
		{"other column", add, &proto.Exception{Code: 44, Message: "Cannot add column d: column with this name already exists"}, false},
		{"column name prefix", add, &proto.Exception{Code: 44, Message: "Cannot add column cc: column with this name already exists"}, false},
		{"other code", add, &proto.Exception{Code: 60, Message: "Table db.t doesn't exist."}, false},
		{"other text", add, errors.New("Code: 60. DB::Exception: Table db.t does not exist. (UNKNOWN_TABLE)"), false},
		{"two clauses", "ALTER TABLE db.t ADD COLUMN c String, ADD COLUMN d String", exists1816, false},
		{"comma inside a type", "ALTER TABLE db.t ADD COLUMN c Decimal(10, 2)", exists1816, true},
		{"comma inside a string", "ALTER TABLE db.t ADD COLUMN c String DEFAULT 'a,b'", exists1816, true},
		{"not an add", "ALTER TABLE db.t MODIFY COLUMN c String", exists1816, false},
		{"create", "CREATE TABLE IF NOT EXISTS db.c (c String) ENGINE = Log", exists1816, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := chx.ColumnAlreadyAdded(tt.stmt, tt.err); got != tt.want {
				t.Errorf("ColumnAlreadyAdded(%q, %v) = %v, want %v", tt.stmt, tt.err, got, tt.want)
			}
		})
	}
}

// TestMigrateAddColumnAgain applies a migration that adds columns after its
// first statement already ran (a migrator stopped half-way): the column that
// exists counts as added and the rest is applied.
func TestMigrateAddColumnAgain(t *testing.T) {
	conn, db := testConn(t)
	ctx := context.Background()
	first := files("001_t.sql", "CREATE TABLE IF NOT EXISTS ${database}.t (a String) ENGINE = MergeTree ORDER BY a;")
	if _, err := chx.Migrate(ctx, conn, db, first, nil); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "ALTER TABLE "+db+".t ADD COLUMN b Array(String) AFTER a"); err != nil {
		t.Fatal(err)
	}
	both := files("001_t.sql", "CREATE TABLE IF NOT EXISTS ${database}.t (a String) ENGINE = MergeTree ORDER BY a;",
		"002_bc.sql", `ALTER TABLE ${database}.t ADD COLUMN b Array(String) AFTER a;
ALTER TABLE ${database}.t ADD COLUMN c Array(Nullable(String)) AFTER b;
ALTER TABLE ${database}.t COMMENT COLUMN c 'C.';`)
	applied, err := chx.Migrate(ctx, conn, db, both, nil)
	if err != nil {
		t.Fatalf("migrate with column b already added: %v", err)
	}
	if len(applied) != 1 || applied[0].File != "002_bc.sql" {
		t.Fatalf("applied %v, want 002_bc.sql", fileNames(applied))
	}
	var cols []string
	rows, err := conn.Query(ctx, "SELECT concat(name, ' ', type, ' ', comment) FROM system.columns WHERE database = ? AND table = 't' ORDER BY name", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, s)
	}
	if got, want := cols, []string{"a String ", "b Array(String) ", "c Array(Nullable(String)) C."}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("columns = %q, want %q", got, want)
	}
	// A statement that fails for another reason still fails.
	bad := files("001_t.sql", "CREATE TABLE IF NOT EXISTS ${database}.t (a String) ENGINE = MergeTree ORDER BY a;",
		"002_bc.sql", string(both["002_bc.sql"].Data),
		"003_x.sql", "ALTER TABLE ${database}.missing ADD COLUMN x String;")
	if _, err := chx.Migrate(ctx, conn, db, bad, nil); err == nil {
		t.Error("ADD COLUMN to a missing table: no error")
	}
}
