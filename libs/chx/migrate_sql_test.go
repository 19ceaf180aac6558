package chx_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/chx"
)

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{"empty", "", nil},
		{"blanks only", " \n\t\r\n", nil},
		{"one without semicolon", "SELECT 1", []string{"SELECT 1"}},
		{"one with semicolon", "SELECT 1;", []string{"SELECT 1"}},
		{"two, trimmed", "  SELECT 1 ;\n\n SELECT 2;\n", []string{"SELECT 1", "SELECT 2"}},
		{"empty statements dropped", ";;SELECT 1;;;", []string{"SELECT 1"}},
		{"semicolon in string", "SELECT 'a;b'; SELECT 2", []string{"SELECT 'a;b'", "SELECT 2"}},
		{"backslash-escaped quote", `SELECT 'it\'s; fine'; SELECT 2`, []string{`SELECT 'it\'s; fine'`, "SELECT 2"}},
		{"doubled quote", "SELECT 'it''s; fine'; SELECT 2", []string{"SELECT 'it''s; fine'", "SELECT 2"}},
		{"escaped backslash ends string", `SELECT 'a\\'; SELECT 2`, []string{`SELECT 'a\\'`, "SELECT 2"}},
		{"empty string", "SELECT ''; SELECT ';'", []string{"SELECT ''", "SELECT ';'"}},
		{"double-quoted identifier", `SELECT 1 AS "a;b"; SELECT 2`, []string{`SELECT 1 AS "a;b"`, "SELECT 2"}},
		{"backquoted identifier", "SELECT 1 AS `a;b`; SELECT 2", []string{"SELECT 1 AS `a;b`", "SELECT 2"}},
		{"other quotes inside string", `SELECT 'say "hi"; ` + "`x`" + `'; SELECT 2`, []string{`SELECT 'say "hi"; ` + "`x`" + `'`, "SELECT 2"}},
		{"line comment with semicolon", "SELECT 1 -- one; two\n; SELECT 2", []string{"SELECT 1 -- one; two", "SELECT 2"}},
		{"line comment with quote", "-- it's a comment\nSELECT 1; SELECT 2", []string{"-- it's a comment\nSELECT 1", "SELECT 2"}},
		{"line comment at end without newline", "SELECT 1; -- done; really", []string{"SELECT 1"}},
		{"block comment with semicolon", "SELECT /* a; b */ 1; SELECT 2", []string{"SELECT /* a; b */ 1", "SELECT 2"}},
		{"block comment with quote", "/* don't */ SELECT 1", []string{"/* don't */ SELECT 1"}},
		{"multi-line block comment", "/*\n;\n*/\nSELECT 1;", []string{"/*\n;\n*/\nSELECT 1"}},
		{"comment-only pieces dropped", "-- header;\n/* x; */;\nSELECT 1;\n-- trailer\n", []string{"SELECT 1"}},
		{"dash alone is not a comment", "SELECT 2 - 1; SELECT 3", []string{"SELECT 2 - 1", "SELECT 3"}},
		{"slash alone is not a comment", "SELECT 4 / 2; SELECT 3", []string{"SELECT 4 / 2", "SELECT 3"}},
		{"comment markers inside string", "SELECT '-- no', '/* no'; SELECT 2", []string{"SELECT '-- no', '/* no'", "SELECT 2"}},
		{"string at end of input", "SELECT 'x'", []string{"SELECT 'x'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chx.SplitStatements(tt.sql)
			if err != nil {
				t.Fatalf("SplitStatements: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitStatements(%q)\n got %q\nwant %q", tt.sql, got, tt.want)
			}
		})
	}
}

func TestSplitStatementsErrors(t *testing.T) {
	tests := []struct {
		name, sql, wantErr string
	}{
		{"unterminated string", "SELECT 1;\nSELECT 'abc;", "line 2: unterminated string literal"},
		{"string ending in escaped quote", `SELECT 'abc\'`, "line 1: unterminated string literal"},
		{"unterminated double-quoted identifier", `SELECT "a`, `line 1: unterminated "quoted" identifier`},
		{"unterminated backquoted identifier", "\n\nSELECT `a", "line 3: unterminated `quoted` identifier"},
		{"unterminated block comment", "SELECT 1 /* ;", "line 1: unterminated /* comment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chx.SplitStatements(tt.sql)
			if err == nil {
				t.Fatalf("SplitStatements(%q) = %q, want error %q", tt.sql, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseMigrationFileName(t *testing.T) {
	tests := []struct {
		file        string
		wantVersion int
		wantName    string
		wantErr     bool
	}{
		{file: "001_events.sql", wantVersion: 1, wantName: "events"},
		{file: "042_prediction_log.sql", wantVersion: 42, wantName: "prediction_log"},
		{file: "999_v2_tables.sql", wantVersion: 999, wantName: "v2_tables"},
		{file: "000_zero.sql", wantErr: true},
		{file: "1_events.sql", wantErr: true},
		{file: "0001_events.sql", wantErr: true},
		{file: "001-events.sql", wantErr: true},
		{file: "001_Events.sql", wantErr: true},
		{file: "001_events.SQL", wantErr: true},
		{file: "001_.sql", wantErr: true},
		{file: "001_events_.sql", wantErr: true},
		{file: "001__events.sql", wantErr: true},
		{file: "001_drop table.sql", wantErr: true},
		{file: "001_events.sql.bak", wantErr: true},
		{file: "abc_events.sql", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			v, n, err := chx.ParseMigrationFileName(tt.file)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseMigrationFileName(%q) = %d, %q; want an error", tt.file, v, n)
				}
				if !strings.Contains(err.Error(), tt.file) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMigrationFileName(%q): %v", tt.file, err)
			}
			if v != tt.wantVersion || n != tt.wantName {
				t.Errorf("ParseMigrationFileName(%q) = %d, %q; want %d, %q", tt.file, v, n, tt.wantVersion, tt.wantName)
			}
		})
	}
}
