package reason

import (
	"fmt"
	"net/http"
	"strings"
)

// ID is the stable id of a rejection, like "schema_violation".
type ID string

// Valid reports whether id has the form of a reason: 1 to 64 characters of
// a-z, 0-9 and '_', starting with a letter and not ending with '_'.
func (id ID) Valid() bool {
	if len(id) == 0 || len(id) > 64 || id[0] < 'a' || id[0] > 'z' || id[len(id)-1] == '_' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Def describes one reason of a service.
type Def struct {
	ID ID
	// Status is the HTTP status of a request refused for it; 0 when the
	// reason never reaches an HTTP client (a consumer's rejection).
	Status int
	// DeadLettered is true when the refused input goes to tributary.dlq.
	DeadLettered bool
	// Doc says, in a short phrase, when the reason applies.
	Doc string
}

// Catalog is the list of a service's reasons, in the order its docs show
// them.
type Catalog []Def

// Validate checks that every id is well formed and listed once, that every
// Status is 0 or a 4xx/5xx status and that every Doc is set.
func (c Catalog) Validate() error {
	seen := make(map[ID]bool, len(c))
	for i, d := range c {
		switch {
		case !d.ID.Valid():
			return fmt.Errorf("reason %d %q: not a snake_case id of at most 64 characters", i, d.ID)
		case seen[d.ID]:
			return fmt.Errorf("reason %q: listed twice", d.ID)
		case d.Status != 0 && (d.Status < 400 || d.Status > 599 || http.StatusText(d.Status) == ""):
			return fmt.Errorf("reason %q: status %d is not an HTTP error status", d.ID, d.Status)
		case strings.TrimSpace(d.Doc) == "":
			return fmt.Errorf("reason %q: no doc", d.ID)
		}
		seen[d.ID] = true
	}
	return nil
}

// Lookup returns the Def of id.
func (c Catalog) Lookup(id ID) (Def, bool) {
	for _, d := range c {
		if d.ID == id {
			return d, true
		}
	}
	return Def{}, false
}

// IDs returns the ids in catalog order.
func (c Catalog) IDs() []ID {
	out := make([]ID, len(c))
	for i, d := range c {
		out[i] = d.ID
	}
	return out
}

// Markdown renders the catalog as a Markdown table (reason, HTTP status,
// dead-lettered, meaning) for a service README.
func (c Catalog) Markdown() string {
	var b strings.Builder
	b.WriteString("| Reason | HTTP status | Dead-lettered | When |\n|---|---|---|---|\n")
	for _, d := range c {
		status := "—"
		if d.Status != 0 {
			status = fmt.Sprintf("%d", d.Status)
		}
		dl := "no"
		if d.DeadLettered {
			dl = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.ID, status, dl, strings.ReplaceAll(d.Doc, "|", `\|`))
	}
	return b.String()
}
