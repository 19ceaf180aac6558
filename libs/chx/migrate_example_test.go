package chx_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/schemas"
)

// A service that owns tables migrates at start, before it writes.
func ExampleMigrate() {
	cfg := chx.Config{Addr: "127.0.0.1:9000", Database: "tributary", Username: "default", DialTimeout: 5 * time.Second, ReadTimeout: time.Minute}
	conn, err := chx.Open(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	applied, err := chx.Migrate(context.Background(), conn, cfg.Database, schemas.ClickHouseMigrations(), slog.Default())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range applied {
		fmt.Println("applied", m.File)
	}
}

func ExampleSplitStatements() {
	stmts, err := chx.SplitStatements(`
-- Two statements; the ';' in the string and the comment do not split.
CREATE TABLE IF NOT EXISTS db.t (s String COMMENT 'a; b') ENGINE = Memory; /* ; */
SELECT count() FROM db.t;
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range stmts {
		fmt.Printf("%q\n", s)
	}
	// Output:
	// "-- Two statements; the ';' in the string and the comment do not split.\nCREATE TABLE IF NOT EXISTS db.t (s String COMMENT 'a; b') ENGINE = Memory"
	// "/* ; */\nSELECT count() FROM db.t"
}
