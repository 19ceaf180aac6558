package schemas

import (
	"embed"
	"io/fs"
)

//go:embed clickhouse/*.sql
var clickhouseFiles embed.FS

// ClickHouseMigrations returns the ClickHouse migrations, the files
// NNN_name.sql of schemas/clickhouse, at the root of the returned file system,
// as chx.Migrate takes them.
func ClickHouseMigrations() fs.FS {
	// fs.Sub fails only on an invalid path, and "clickhouse" is valid.
	sub, _ := fs.Sub(clickhouseFiles, "clickhouse")
	return sub
}
