package intake

import (
	"net/http"

	"github.com/tributary-ml/tributary/libs/reason"
)

// Reason is the stable id of a rejection (libs/reason): it is in the HTTP
// answer, in the tributary_reason header of the dead-letter record and in
// the reason label of tributary_ingest_events_total. Ingest's ids and
// their statuses are reason.Ingest().
type Reason = reason.ID

// statuses maps each id of reason.Ingest() to its HTTP status; read only.
var statuses = func() map[Reason]int {
	m := map[Reason]int{}
	for _, d := range reason.Ingest() {
		m[d.ID] = d.Status
	}
	return m
}()

// Status is the HTTP status of a single event rejected for r, as
// reason.Ingest() lists it: 400 for a reason that reaches no HTTP client
// (a raw record's) or is not in the catalog.
func Status(r Reason) int {
	if s := statuses[r]; s != 0 {
		return s
	}
	return http.StatusBadRequest
}

// Reasons lists ingest's reasons, for docs and tests.
func Reasons() []Reason { return reason.Ingest().IDs() }
