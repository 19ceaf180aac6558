package schemas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/schemas"
)

// The documented analyst queries are the code blocks marked sql in the
// repository's Markdown files. They name the production database,
// "tributary"; on the shared 18.16 server they run in a fresh database.
const docDatabase = "tributary"

// seedFile holds rows for the documented queries to return.
const seedFile = "testdata/clickhouse_seed.sql"

// sqlBlock is one code block marked sql in a Markdown file.
type sqlBlock struct {
	File string // path from the repository root, with slashes
	Line int    // line of the opening fence, from 1
	SQL  string
}

func (b sqlBlock) where() string { return fmt.Sprintf("%s:%d", b.File, b.Line) }

// fence matches the opening or closing line of a fenced code block: up to
// three spaces, three or more backticks or tildes, then the info string.
var fence = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})\\s*(.*)$")

// sqlBlocks returns the fenced code blocks of a Markdown text whose language
// (the first word of the info string) is sql, in any case. A block that is
// never closed is an error, since what follows would silently not be tested.
func sqlBlocks(file, text string) ([]sqlBlock, error) {
	var (
		out   []sqlBlock
		open  string // the fence of the block we are in; "" outside blocks
		isSQL bool
		start int
		body  []string
	)
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		m := fence.FindStringSubmatch(line)
		switch {
		case open == "" && m != nil:
			open, start, body = m[1], i+1, nil
			lang, _, _ := strings.Cut(strings.TrimSpace(m[2]), " ")
			isSQL = strings.EqualFold(lang, "sql")
		case open != "" && m != nil && m[1][0] == open[0] && len(m[1]) >= len(open) && strings.TrimSpace(m[2]) == "":
			if isSQL {
				out = append(out, sqlBlock{File: file, Line: start, SQL: strings.Join(body, "\n")})
			}
			open = ""
		case open != "":
			body = append(body, line)
		}
	}
	if open != "" {
		return nil, fmt.Errorf("%s:%d: code block is not closed", file, start)
	}
	return out, nil
}

func TestSQLBlocks(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    []sqlBlock
		wantErr bool
	}{
		{name: "none", text: "# title\n\nSELECT 1 in prose\n"},
		{
			name: "sql blocks only",
			text: "intro\n```sql\nSELECT 1\nFROM t\n```\n```go\nx := 1\n```\n~~~SQL\nSELECT 2;\nSELECT 3\n~~~\n",
			want: []sqlBlock{{"f.md", 2, "SELECT 1\nFROM t"}, {"f.md", 9, "SELECT 2;\nSELECT 3"}},
		},
		{
			name: "info string after the language, indented fence, CRLF",
			text: "  ```sql title=x\r\nSELECT 1\r\n  ```\r\n",
			want: []sqlBlock{{"f.md", 1, "SELECT 1"}},
		},
		{
			name: "an sql fence inside another block is text",
			text: "````markdown\n```sql\nSELECT 1\n```\n````\n",
		},
		{
			name: "a shorter or other fence does not close",
			text: "````sql\nSELECT 1\n```\n~~~\n````\n",
			want: []sqlBlock{{"f.md", 1, "SELECT 1\n```\n~~~"}},
		},
		{name: "not closed", text: "```sql\nSELECT 1\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sqlBlocks("f.md", tt.text)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("blocks = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
}

// documentedQueries returns the sql blocks of every Markdown file of the
// repository (hidden directories such as .data and .git excluded), split
// into statements.
func documentedQueries(t *testing.T) []docFile {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var out []docFile
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".md") {
			return nil
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		blocks, err := sqlBlocks(filepath.ToSlash(rel), string(text))
		if err != nil {
			return err
		}
		for _, b := range blocks {
			stmts, err := chx.SplitStatements(b.SQL)
			if err != nil {
				return fmt.Errorf("%s: %w", b.where(), err)
			}
			if len(stmts) == 0 {
				return fmt.Errorf("%s: empty sql block", b.where())
			}
			out = append(out, docFile{File: b.where(), Statements: stmts})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the documented queries: %v", err)
	}
	// Guard against a walk that finds nothing and so proves nothing.
	found := map[string]bool{}
	for _, q := range out {
		found[strings.Split(q.File, ":")[0]] = true
	}
	for _, f := range []string{"schemas/clickhouse/README.md", "services/features/README.md"} {
		if !found[f] {
			t.Fatalf("no sql block found in %s (found them in %v)", f, found)
		}
	}
	return out
}

// docFile is a file's statements, as the chdb driver takes them.
type docFile struct {
	File       string   `json:"file"`
	Statements []string `json:"statements"`
}

// migrationFiles returns the migrations' statements for database, preceded
// by the statement that creates the migrations table, as chx.Migrate runs
// them.
func migrationFiles(t *testing.T, database string) []docFile {
	t.Helper()
	ms, err := chx.LoadMigrations(schemas.ClickHouseMigrations())
	if err != nil {
		t.Fatal(err)
	}
	out := []docFile{{File: chx.MigrationsTable + " (chx.MigrationsTableDDL)", Statements: []string{chx.MigrationsTableDDL(database)}}}
	for _, m := range ms {
		stmts, err := m.Statements(database)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, docFile{File: m.File, Statements: stmts})
	}
	return out
}

// nowPlaceholder in seedFile stands for the test's start, in seconds since
// the epoch: the same instant on both releases, so that their rows are equal,
// and recent, for queries over the last hour.
const nowPlaceholder = "${now}"

// seedStatements returns the statements of seedFile for database and now.
func seedStatements(t *testing.T, database string, now time.Time) docFile {
	t.Helper()
	b, err := os.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	sql := strings.ReplaceAll(string(b), nowPlaceholder, strconv.FormatInt(now.Unix(), 10))
	stmts, err := chx.Migration{File: seedFile, SQL: sql}.Statements(database)
	if err != nil {
		t.Fatal(err)
	}
	return docFile{File: seedFile, Statements: stmts}
}

// migratedTables are the tables the migrations create, which the documented
// queries name as tributary.<table>.
func migratedTables(t *testing.T) map[string]bool {
	t.Helper()
	ms, err := chx.LoadMigrations(schemas.ClickHouseMigrations())
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]bool{chx.MigrationsTable: true}
	re := regexp.MustCompile(regexp.QuoteMeta(chx.DatabasePlaceholder) + `\.([A-Za-z_][A-Za-z0-9_]*)`)
	for _, m := range ms {
		for _, sm := range re.FindAllStringSubmatch(m.SQL, -1) {
			tables[sm[1]] = true
		}
	}
	return tables
}

// docTable matches tributary.<identifier> in a documented query.
var docTable = regexp.MustCompile(`\b` + docDatabase + `\.([A-Za-z_][A-Za-z0-9_]*)`)

// onDatabase rewrites tributary.<table> to database.<table> for the tables
// the migrations create (and not, say, a topic name tributary.events.orders).
func onDatabase(sql, database string, tables map[string]bool) string {
	var b strings.Builder
	last := 0
	for _, m := range docTable.FindAllStringSubmatchIndex(sql, -1) {
		end := m[1]
		if !tables[sql[m[2]:m[3]]] || (end < len(sql) && sql[end] == '.') {
			continue
		}
		b.WriteString(sql[last:m[0]])
		b.WriteString(database + "." + sql[m[2]:m[3]])
		last = end
	}
	b.WriteString(sql[last:])
	return b.String()
}

func TestOnDatabase(t *testing.T) {
	tables := map[string]bool{"events": true, "feature_history": true}
	for _, tt := range []struct{ in, want string }{
		{"SELECT * FROM tributary.events FINAL", "SELECT * FROM db1.events FINAL"},
		{"SELECT 1 FROM tributary.feature_history, tributary.events", "SELECT 1 FROM db1.feature_history, db1.events"},
		{"SELECT 'tributary.events.orders', x FROM tributary.events", "SELECT 'tributary.events.orders', x FROM db1.events"},
		{"SELECT * FROM tributary.other", "SELECT * FROM tributary.other"},
		{"SELECT * FROM mytributary.events", "SELECT * FROM mytributary.events"},
	} {
		if got := onDatabase(tt.in, "db1", tables); got != tt.want {
			t.Errorf("onDatabase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// schemaQuery reads a database's columns in a form both releases print alike.
func schemaQuery(database string) string {
	return "SELECT concat(table, '.', name, ' ', type, ' ', comment) FROM system.columns WHERE database = '" + database + "' ORDER BY table, name"
}

// TestClickHouseDocumentedSQL applies every migration and runs every
// documented query (each code block marked sql in the repository's Markdown)
// on the ClickHouse server of the tests (18.16 in CI) and on a current
// release in-process (chdb, ClickHouse 26.x, from the python of `make pyenv`),
// over the same seed rows: every statement must run on both, every query must
// return rows, the same rows on both, and the migrations must give the same
// columns on both.
func TestClickHouseDocumentedSQL(t *testing.T) {
	queries := documentedQueries(t)
	now := time.Now()
	var server, current *sqlRun
	t.Run("server", func(t *testing.T) { server = runOnServer(t, queries, now) })
	t.Run("chdb", func(t *testing.T) { current = runOnChdb(t, queries, now) })
	if server == nil || current == nil {
		return // a part failed or was skipped: nothing to compare
	}
	if !reflect.DeepEqual(server.schema, current.schema) {
		t.Errorf("the migrations give other columns on ClickHouse %s than on %s:\n%s\n%q\n%s\n%q",
			server.version, current.version, server.version, server.schema, current.version, current.schema)
	}
	for _, q := range queries {
		for i, stmt := range q.Statements {
			k := stmtKey(q.File, i+1)
			a, b := server.results[k], current.results[k]
			switch {
			case a.n != b.n:
				t.Errorf("%s statement %d returns %d rows on ClickHouse %s and %d on %s\n%s", q.File, i+1,
					a.n, server.version, b.n, current.version, stmt)
			case a.plain && b.plain && !reflect.DeepEqual(a.rows, b.rows):
				t.Errorf("%s statement %d returns other rows on ClickHouse %s than on %s (sorted, tab-separated):\n%q\n%q\n%s",
					q.File, i+1, server.version, current.version, a.rows, b.rows, stmt)
			case !a.plain || !b.plain:
				t.Logf("%s statement %d: only the number of rows is compared (a value is not a number, string or time)", q.File, i+1)
			}
		}
	}
}

// sqlRun is what one release gave.
type sqlRun struct {
	version string
	schema  []string               // schemaQuery after the migrations
	results map[string]queryResult // of each documented statement, by stmtKey
}

// queryResult is what a query returned, in a form both releases can be
// compared in: each row's values rendered as text and joined by tabs, the
// rows sorted (a query without ORDER BY may return them in any order).
type queryResult struct {
	n     int
	rows  []string
	plain bool // every value rendered: NULL, numbers, strings, times only
}

func stmtKey(file string, index int) string { return fmt.Sprintf("%s#%d", file, index) }

// runOnServer migrates a fresh database of the real server, inserts the seed
// and runs the queries. It returns nil when something failed.
func runOnServer(t *testing.T, queries []docFile, now time.Time) *sqlRun {
	conn, db := testConn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := &sqlRun{results: map[string]queryResult{}}
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&run.version); err != nil {
		t.Fatalf("server version: %v", err)
	}
	t.Logf("ClickHouse %s at the server", run.version)
	if _, err := chx.Migrate(ctx, conn, db, schemas.ClickHouseMigrations(), nil); err != nil {
		t.Fatal(err)
	}
	run.schema = queryStrings(t, conn, schemaQuery(db))
	seed := seedStatements(t, db, now)
	for i, stmt := range seed.Statements {
		if err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s statement %d on ClickHouse %s: %v\n%s", seed.File, i+1, run.version, err, stmt)
		}
	}
	tables := migratedTables(t)
	for _, q := range queries {
		for i, stmt := range q.Statements {
			res, err := serverRows(ctx, conn, onDatabase(stmt, db, tables))
			switch {
			case err != nil:
				t.Errorf("%s statement %d fails on ClickHouse %s: %v\n%s", q.File, i+1, run.version, err, stmt)
			case res.n == 0:
				t.Errorf("%s statement %d returns no rows on ClickHouse %s: add rows for it to schemas/%s\n%s", q.File, i+1, run.version, seedFile, stmt)
			}
			run.results[stmtKey(q.File, i+1)] = res
		}
	}
	if t.Failed() {
		return nil
	}
	return run
}

// serverRows runs a query and renders its rows (see queryResult).
func serverRows(ctx context.Context, conn driver.Conn, query string) (queryResult, error) {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return queryResult{}, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	res := queryResult{plain: true}
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return queryResult{}, err
		}
		vals := make([]string, len(dest))
		for i, d := range dest {
			v, ok := renderGo(reflect.ValueOf(d), types[i].DatabaseTypeName())
			vals[i], res.plain = v, res.plain && ok
		}
		res.rows = append(res.rows, strings.Join(vals, "\t"))
		res.n++
	}
	if err := rows.Err(); err != nil {
		return queryResult{}, err
	}
	sort.Strings(res.rows)
	return res, nil
}

// renderGo renders a scanned value as renderJSON renders chdb's: NULL,
// integers in decimal, floats in their shortest form without exponent,
// strings as they are, DateTime as 2006-01-02 15:04:05 (in the column's time
// zone) and Date as 2006-01-02. Other types report false.
func renderGo(v reflect.Value, dbType string) (string, bool) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return "NULL", true
		}
		v = v.Elem()
	}
	if tm, ok := v.Interface().(time.Time); ok {
		base := strings.TrimSuffix(strings.TrimPrefix(dbType, "Nullable("), ")")
		if base == "Date" || base == "Date32" {
			return tm.Format("2006-01-02"), true
		}
		return tm.Format("2006-01-02 15:04:05"), true
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), true
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64), true
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), true
	}
	return fmt.Sprint(v.Interface()), false
}

// renderJSON renders a value of chdb's JSONCompact output (decoded with
// UseNumber) as renderGo renders the server's: 64-bit integers arrive quoted,
// times as strings in the column's time zone.
func renderJSON(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "NULL", true
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case json.Number:
		if _, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
			return v.String(), true
		}
		if _, err := strconv.ParseUint(v.String(), 10, 64); err == nil {
			return v.String(), true
		}
		f, err := v.Float64()
		if err != nil {
			return v.String(), false
		}
		return strconv.FormatFloat(f, 'f', -1, 64), true
	}
	return fmt.Sprint(v), false
}

func TestRender(t *testing.T) {
	f, n := 3.0, (*float64)(nil)
	tm := time.Date(2026, 11, 26, 10, 5, 0, 0, time.UTC)
	for _, tt := range []struct {
		goVal  any
		dbType string
		json   string
		want   string
	}{
		{&f, "Nullable(Float64)", `3`, "3"},
		{12.5, "Float64", `12.5`, "12.5"},
		{1e-7, "Float64", `1e-7`, "0.0000001"},
		{&n, "Nullable(Float64)", `null`, "NULL"},
		{int64(-42), "Int64", `"-42"`, "-42"},
		{uint64(18446744073709551615), "UInt64", `"18446744073709551615"`, "18446744073709551615"},
		{uint16(250), "UInt16", `250`, "250"},
		{"it's", "String", `"it's"`, "it's"},
		{tm, "DateTime('UTC')", `"2026-11-26 10:05:00"`, "2026-11-26 10:05:00"},
		{&tm, "Nullable(Date)", `"2026-11-26"`, "2026-11-26"},
	} {
		g, ok := renderGo(reflect.ValueOf(tt.goVal), tt.dbType)
		if g != tt.want || !ok {
			t.Errorf("renderGo(%v, %s) = %q, %v; want %q", tt.goVal, tt.dbType, g, ok, tt.want)
		}
		dec := json.NewDecoder(strings.NewReader(tt.json))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if j, ok := renderJSON(v); j != tt.want || !ok {
			t.Errorf("renderJSON(%s) = %q, %v; want %q", tt.json, j, ok, tt.want)
		}
	}
	if _, ok := renderGo(reflect.ValueOf([]string{"a"}), "Array(String)"); ok {
		t.Error("renderGo of an array reports a plain value")
	}
	if _, ok := renderJSON([]any{"a"}); ok {
		t.Error("renderJSON of an array reports a plain value")
	}
}

// chdbRequest and chdbReport are the input and output of testdata/chdb_run.py.
type chdbRequest struct {
	Path        string    `json:"path"`
	Database    string    `json:"database"`
	Migrations  []docFile `json:"migrations"`
	SchemaQuery string    `json:"schema_query"`
	Seed        []docFile `json:"seed"`
	Queries     []docFile `json:"queries"`
}

type chdbReport struct {
	Chdb       string `json:"chdb"`
	ClickHouse string `json:"clickhouse"`
	Results    []struct {
		Phase string  `json:"phase"`
		File  string  `json:"file"`
		Index int     `json:"index"`
		SQL   string  `json:"sql"`
		OK    bool    `json:"ok"`
		Error string  `json:"error"`
		Rows  int     `json:"rows"`
		Data  [][]any `json:"data"`
	} `json:"results"`
}

// runOnChdb runs testdata/chdb_run.py with TRIBUTARY_PYTHON: the migrations
// twice, the seed and the queries, verbatim, on database tributary of a
// session of its own. It returns nil when something failed.
func runOnChdb(t *testing.T, queries []docFile, now time.Time) *sqlRun {
	python := os.Getenv("TRIBUTARY_PYTHON")
	if python == "" {
		if testing.Short() {
			t.Skip("TRIBUTARY_PYTHON is not set; skipped with -short")
		}
		t.Fatal("TRIBUTARY_PYTHON is not set: run `make pyenv` and set it to what `deploy/local/pyenv.sh path` prints " +
			"(`make test` does both), e.g. TRIBUTARY_PYTHON=$(deploy/local/pyenv.sh ensure) go test ./...")
	}
	req := chdbRequest{
		Path:        t.TempDir(),
		Database:    docDatabase,
		Migrations:  migrationFiles(t, docDatabase),
		SchemaQuery: schemaQuery(docDatabase),
		Seed:        []docFile{seedStatements(t, docDatabase, now)},
		Queries:     queries,
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/chdb_run.py")
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("run testdata/chdb_run.py with TRIBUTARY_PYTHON=%s: %v\n%s\n(is it the python of `make pyenv`?)", python, err, stderr.String())
	}
	var rep chdbReport
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("read the report of testdata/chdb_run.py: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	version := "ClickHouse " + rep.ClickHouse + " (chdb " + rep.Chdb + ")"
	t.Logf("%s: %d statements in %v", version, len(rep.Results), time.Since(start).Round(time.Millisecond))
	run := &sqlRun{version: version, results: map[string]queryResult{}}
	var schemas [][]string
	for _, r := range rep.Results {
		if !r.OK {
			// Run again, an ADD COLUMN fails as the migrator accepts.
			if r.Phase != "migrate 2" || !chx.ColumnAlreadyAdded(r.SQL, errors.New(r.Error)) {
				t.Errorf("%s: %s statement %d fails on %s: %s\n%s", r.Phase, r.File, r.Index, version, r.Error, r.SQL)
			}
			continue
		}
		switch r.Phase {
		case "schema 1", "schema 2":
			var cols []string
			for _, row := range r.Data {
				cols = append(cols, fmt.Sprint(row...))
			}
			schemas = append(schemas, cols)
		case "query":
			if r.Rows == 0 {
				t.Errorf("%s statement %d returns no rows on %s: add rows for it to schemas/%s\n%s", r.File, r.Index, version, seedFile, r.SQL)
			}
			res := queryResult{n: r.Rows, plain: true}
			for _, row := range r.Data {
				vals := make([]string, len(row))
				for i, v := range row {
					s, ok := renderJSON(v)
					vals[i], res.plain = s, res.plain && ok
				}
				res.rows = append(res.rows, strings.Join(vals, "\t"))
			}
			sort.Strings(res.rows)
			run.results[stmtKey(r.File, r.Index)] = res
		}
	}
	if want := 2*statementCount(req.Migrations) + 2 + statementCount(req.Seed) + statementCount(queries) + 1; len(rep.Results) != want {
		t.Errorf("testdata/chdb_run.py reported %d statements, want %d", len(rep.Results), want)
	}
	switch {
	case len(schemas) != 2:
		t.Errorf("got %d schema reads, want 2 (after each pass of the migrations)", len(schemas))
	case len(schemas[0]) == 0:
		t.Errorf("no columns in %s after the migrations", docDatabase)
	case fmt.Sprint(schemas[0]) != fmt.Sprint(schemas[1]):
		t.Errorf("the second pass of the migrations changed the schema on %s:\nfirst  %q\nsecond %q", version, schemas[0], schemas[1])
	}
	if t.Failed() {
		return nil
	}
	run.schema = schemas[0]
	return run
}

func statementCount(files []docFile) int {
	n := 0
	for _, f := range files {
		n += len(f.Statements)
	}
	return n
}
