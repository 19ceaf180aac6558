package chx

import (
	"log/slog"
	"strings"
	"testing"
)

func TestPendingMigrations(t *testing.T) {
	files := []Migration{
		{Version: 1, Name: "a", File: "001_a.sql", Checksum: "sum1"},
		{Version: 2, Name: "b", File: "002_b.sql", Checksum: "sum2"},
		{Version: 3, Name: "c", File: "003_c.sql", Checksum: "sum3"},
	}
	tests := []struct {
		name        string
		recorded    []recorded
		wantPending string
		wantErr     string
	}{
		{name: "fresh database", wantPending: "001_a.sql,002_b.sql,003_c.sql"},
		{name: "partly applied", recorded: []recorded{{1, "a", "sum1"}}, wantPending: "002_b.sql,003_c.sql"},
		{name: "up to date", recorded: []recorded{{1, "a", "sum1"}, {2, "b", "sum2"}, {3, "c", "sum3"}}},
		{
			name:        "recorded twice by concurrent migrators",
			recorded:    []recorded{{1, "a", "sum1"}, {1, "a", "sum1"}, {2, "b", "sum2"}},
			wantPending: "003_c.sql",
		},
		{name: "newer release applied more", recorded: []recorded{{1, "a", "sum1"}, {2, "b", "sum2"}, {3, "c", "sum3"}, {4, "d", "sum4"}}},
		{name: "edited", recorded: []recorded{{1, "a", "sum1"}, {2, "b", "old"}}, wantErr: "migration file 002_b.sql: changed since it was applied"},
		{name: "edited, seen in a duplicate row", recorded: []recorded{{1, "a", "sum1"}, {1, "a", "old"}}, wantErr: "001_a.sql: changed"},
		{name: "renamed", recorded: []recorded{{1, "apple", "sum1"}}, wantErr: `001_a.sql: version 001 was applied as "apple"`},
		{name: "out of order", recorded: []recorded{{1, "a", "sum1"}, {3, "c", "sum3"}}, wantErr: "002_b.sql: not applied, but the later version 003 was"},
		{name: "out of order after an unknown version", recorded: []recorded{{1, "a", "sum1"}, {4, "d", "sum4"}}, wantErr: "002_b.sql: not applied, but the later version 004 was"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pending, err := pendingMigrations(files, tt.recorded, "db", slog.New(slog.DiscardHandler))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range pending {
				got = append(got, m.File)
			}
			if strings.Join(got, ",") != tt.wantPending {
				t.Errorf("pending = %v, want %s", got, tt.wantPending)
			}
		})
	}
}
