package reason_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/reason"
)

func TestIDValid(t *testing.T) {
	for _, c := range []struct {
		id   reason.ID
		want bool
	}{
		{"schema_violation", true},
		{"a", true},
		{"e2big", true},
		{"", false},
		{"Schema", false},
		{"schema-violation", false},
		{"_x", false},
		{"x_", false},
		{"9lives", false},
		{"sch ema", false},
		{reason.ID(strings.Repeat("a", 64)), true},
		{reason.ID(strings.Repeat("a", 65)), false},
	} {
		if got := c.id.Valid(); got != c.want {
			t.Errorf("ID(%q).Valid() = %v, want %v", c.id, got, c.want)
		}
	}
}

func TestCatalogValidate(t *testing.T) {
	ok := reason.Def{ID: "malformed_json", Status: http.StatusBadRequest, DeadLettered: true, Doc: "not JSON"}
	for _, c := range []struct {
		name    string
		cat     reason.Catalog
		wantErr string
	}{
		{"good", reason.Catalog{ok, {ID: "late_event", Doc: "too late"}}, ""},
		{"empty", nil, ""},
		{"bad id", reason.Catalog{{ID: "Bad", Status: 400, Doc: "x"}}, "snake_case"},
		{"twice", reason.Catalog{ok, ok}, "listed twice"},
		{"2xx status", reason.Catalog{{ID: "x", Status: 200, Doc: "x"}}, "not an HTTP error status"},
		{"unknown status", reason.Catalog{{ID: "x", Status: 499, Doc: "x"}}, "not an HTTP error status"},
		{"no doc", reason.Catalog{{ID: "x", Status: 400, Doc: " "}}, "no doc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cat.Validate()
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("Validate = %v, want an error containing %q", err, c.wantErr)
			}
		})
	}
}

func TestCatalogLookupIDsMarkdown(t *testing.T) {
	cat := reason.Catalog{
		{ID: "body_too_large", Status: http.StatusRequestEntityTooLarge, DeadLettered: true, Doc: "body over the limit"},
		{ID: "late_event", Doc: "older than the window | grace"},
	}
	if d, ok := cat.Lookup("late_event"); !ok || d.Doc != "older than the window | grace" {
		t.Errorf("Lookup(late_event) = %+v, %v", d, ok)
	}
	if _, ok := cat.Lookup("nope"); ok {
		t.Error("Lookup(nope) found something")
	}
	if got := cat.IDs(); len(got) != 2 || got[0] != "body_too_large" || got[1] != "late_event" {
		t.Errorf("IDs = %v", got)
	}
	want := "| Reason | HTTP status | Dead-lettered | When |\n|---|---|---|---|\n" +
		"| `body_too_large` | 413 | yes | body over the limit |\n" +
		"| `late_event` | — | no | older than the window \\| grace |\n"
	if got := cat.Markdown(); got != want {
		t.Errorf("Markdown =\n%s\nwant\n%s", got, want)
	}
}
