package chx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DatabasePlaceholder stands for the database in migration SQL: a file writes
// "${database}.events" and the migrator substitutes the validated database
// name, so that the same files serve production and tests' own databases.
const DatabasePlaceholder = "${database}"

// MigrationsTable is the table, in the migrated database, that records which
// migrations were applied.
const MigrationsTable = "schema_migrations"

// Migration is one migration file.
type Migration struct {
	Version  int    // from the file name: 1 for 001_events.sql
	Name     string // from the file name: "events" for 001_events.sql
	File     string // the file name
	SQL      string // the file's text, with DatabasePlaceholder unsubstituted
	Checksum string // hex sha256 of the file's bytes
}

// migrationFile is NNN_snake_case_name.sql.
var migrationFile = regexp.MustCompile(`^([0-9]{3})_([a-z0-9]+(?:_[a-z0-9]+)*)\.sql$`)

// placeholder matches anything that looks like a ${...} placeholder.
var placeholder = regexp.MustCompile(`\$\{[^}]*\}`)

// ParseMigrationFileName returns the version and name of a migration file
// named NNN_snake_case_name.sql, with NNN from 001 to 999.
func ParseMigrationFileName(file string) (version int, name string, err error) {
	m := migrationFile.FindStringSubmatch(file)
	if m == nil {
		return 0, "", fmt.Errorf("migration file %q: name is not NNN_snake_case_name.sql", file)
	}
	version, _ = strconv.Atoi(m[1]) // three digits: cannot fail
	if version == 0 {
		return 0, "", fmt.Errorf("migration file %q: versions start at 001", file)
	}
	return version, m[2], nil
}

// LoadMigrations reads the *.sql files at the root of fsys (other files, such
// as a README, are ignored) and returns them ordered by version. Bad names,
// duplicate versions and gaps in the sequence 001, 002, ... are errors, as
// are statements that do not split (see SplitStatements) and placeholders
// other than DatabasePlaceholder.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		version, name, err := ParseMigrationFileName(e.Name())
		if err != nil {
			return nil, err
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		m := Migration{Version: version, Name: name, File: e.Name(), SQL: string(b), Checksum: hex.EncodeToString(sum[:])}
		if _, err := m.Statements("db"); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		switch {
		case i > 0 && m.Version == out[i-1].Version:
			return nil, fmt.Errorf("migration files %s and %s: duplicate version %03d", out[i-1].File, m.File, m.Version)
		case m.Version != i+1:
			return nil, fmt.Errorf("migration file %s: version %03d is missing before it", m.File, i+1)
		}
	}
	return out, nil
}

// Statements returns the migration's statements for the given database.
func (m Migration) Statements(database string) ([]string, error) {
	sql := strings.ReplaceAll(m.SQL, DatabasePlaceholder, database)
	if p := placeholder.FindString(sql); p != "" {
		return nil, fmt.Errorf("migration file %s: unknown placeholder %s (only %s is substituted)", m.File, p, DatabasePlaceholder)
	}
	stmts, err := SplitStatements(sql)
	if err != nil {
		return nil, fmt.Errorf("migration file %s: %w", m.File, err)
	}
	return stmts, nil
}

// Migrate brings database up to date with the migrations in fsys (see
// LoadMigrations) and returns the ones it applied, in order; none when the
// database was up to date. It creates the database and its MigrationsTable
// when missing, then runs each pending migration statement by statement and
// records it with its checksum.
//
// ClickHouse has no transactions and several replicas of a service may
// migrate at the same time, so every statement must be safe to run again
// (CREATE TABLE IF NOT EXISTS, ...): a migration interrupted half-way, or
// applied twice by concurrent migrators, then converges. A statement that adds
// one column (ALTER TABLE t ADD COLUMN c ..., which 18.16 cannot write with IF
// NOT EXISTS) and fails because the column exists counts as applied (see
// ColumnAlreadyAdded). A recorded
// migration whose file changed since is an error naming the file, and so is a
// pending migration older than one already applied. Migrations recorded in
// the database but unknown to fsys (a newer release migrated it) are logged
// and left alone.
func Migrate(ctx context.Context, conn driver.Conn, database string, fsys fs.FS, logger *slog.Logger) ([]Migration, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if !identifier.MatchString(database) {
		return nil, fmt.Errorf("migrate: database %q is not a plain identifier", database)
	}
	migrations, err := LoadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+database); err != nil {
		return nil, fmt.Errorf("create database %s: %w", database, err)
	}
	if err := conn.Exec(ctx, MigrationsTableDDL(database)); err != nil {
		return nil, fmt.Errorf("create %s.%s: %w", database, MigrationsTable, err)
	}
	recorded, err := recordedMigrations(ctx, conn, database)
	if err != nil {
		return nil, err
	}
	pending, err := pendingMigrations(migrations, recorded, database, logger)
	if err != nil {
		return nil, err
	}
	for _, m := range pending {
		start := time.Now()
		stmts, err := m.Statements(database)
		if err != nil {
			return nil, err
		}
		for i, stmt := range stmts {
			if err := conn.Exec(ctx, stmt); err != nil && !ColumnAlreadyAdded(stmt, err) {
				return nil, fmt.Errorf("apply migration %s, statement %d: %w", m.File, i+1, err)
			}
		}
		if err := recordMigration(ctx, conn, database, m); err != nil {
			return nil, err
		}
		logger.Info("clickhouse migration applied", "database", database, "version", m.Version,
			"file", m.File, "statements", len(stmts), "duration", time.Since(start))
	}
	return pending, nil
}

// MigrationsTableDDL is the statement Migrate runs first, on every start, to
// create MigrationsTable in database (which must be a plain identifier).
// Exported so that tests can run it on other ClickHouse releases.
func MigrationsTableDDL(database string) string {
	return `CREATE TABLE IF NOT EXISTS ` + database + `.` + MigrationsTable + ` (
	version    UInt32   COMMENT 'Migration version: NNN of NNN_name.sql.',
	name       String   COMMENT 'Migration name: name of NNN_name.sql.',
	checksum   String   COMMENT 'Hex sha256 of the migration file when it was applied.',
	applied_at DateTime COMMENT 'When the migration was applied.'
) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version`
}

// recorded is one row of the migrations table.
type recorded struct {
	version  int
	name     string
	checksum string
}

// recordedMigrations reads the migrations table. Concurrent migrators may
// have recorded a version more than once; all its rows are returned.
func recordedMigrations(ctx context.Context, conn driver.Conn, database string) ([]recorded, error) {
	rows, err := conn.Query(ctx, "SELECT version, name, checksum FROM "+database+"."+MigrationsTable+" ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("read %s.%s: %w", database, MigrationsTable, err)
	}
	defer rows.Close()
	var out []recorded
	for rows.Next() {
		var (
			r recorded
			v uint32
		)
		if err := rows.Scan(&v, &r.name, &r.checksum); err != nil {
			return nil, fmt.Errorf("read %s.%s: %w", database, MigrationsTable, err)
		}
		r.version = int(v)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s.%s: %w", database, MigrationsTable, err)
	}
	return out, nil
}

// pendingMigrations checks what the database recorded against the files and
// returns the migrations still to apply.
func pendingMigrations(migrations []Migration, recs []recorded, database string, logger *slog.Logger) ([]Migration, error) {
	byVersion := make(map[int]Migration, len(migrations))
	for _, m := range migrations {
		byVersion[m.Version] = m
	}
	applied := map[int]bool{}
	highest := 0
	for _, r := range recs {
		m, ok := byVersion[r.version]
		if !ok {
			if !applied[r.version] {
				logger.Warn("clickhouse migration recorded but unknown to this release", "database", database, "version", r.version, "name", r.name)
			}
			applied[r.version] = true
			highest = max(highest, r.version)
			continue
		}
		if r.name != m.Name {
			return nil, fmt.Errorf("migration file %s: version %03d was applied as %q; a migration must not be renamed or replaced", m.File, r.version, r.name)
		}
		if r.checksum != m.Checksum {
			return nil, fmt.Errorf("migration file %s: changed since it was applied (sha256 %s, recorded %s); write a new migration instead", m.File, m.Checksum, r.checksum)
		}
		applied[r.version] = true
		highest = max(highest, r.version)
	}
	var pending []Migration
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}
		if m.Version < highest {
			return nil, fmt.Errorf("migration file %s: not applied, but the later version %03d was; migrations must be applied in order", m.File, highest)
		}
		pending = append(pending, m)
	}
	return pending, nil
}

func recordMigration(ctx context.Context, conn driver.Conn, database string, m Migration) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+database+"."+MigrationsTable+" (version, name, checksum, applied_at)")
	if err != nil {
		return fmt.Errorf("record migration %s: %w", m.File, err)
	}
	if err := batch.Append(uint32(m.Version), m.Name, m.Checksum, time.Now()); err != nil {
		return errors.Join(fmt.Errorf("record migration %s: %w", m.File, err), batch.Abort())
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("record migration %s: %w", m.File, err)
	}
	return nil
}
