// Package runsapi is the trainer's HTTP API for people and the cli over the
// tracked runs: list, show, a metric's history, and a side-by-side
// comparison with params and metrics as columns. Errors are JSON
// {"error": {"id": "...", "message": "..."}} with the ids of runs.Code
// (and "unavailable", "internal").
package runsapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
)

// Bounds of the list and the comparison.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
	MaxCompare       = 50
)

// API serves the runs API.
type API struct {
	store  func() *runs.Store
	logger *slog.Logger
}

// New returns the API over the store that store returns; while it returns
// nil every route answers 503 unavailable.
func New(store func() *runs.Store, logger *slog.Logger) *API {
	return &API{store: store, logger: logger}
}

// Routes returns the API's patterns and handlers, for service.Runtime.Handle.
func (a *API) Routes() map[string]http.Handler {
	h := func(f func(*runs.Store, *http.Request) (any, error)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, f) })
	}
	return map[string]http.Handler{
		"GET /v1/runs":                    h(a.list),
		"GET /v1/runs/compare":            h(a.compare),
		"GET /v1/runs/{id}":               h(a.show),
		"GET /v1/runs/{id}/metrics/{key}": h(a.history),
	}
}

// ErrorBody is the body of an error answer.
type ErrorBody struct {
	Error ErrorInfo `json:"error"`
}

// ErrorInfo is a stable id and a message.
type ErrorInfo struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

func status(code runs.Code) int {
	switch code {
	case runs.CodeInvalid, runs.CodeLimitExceeded:
		return http.StatusBadRequest
	case runs.CodeNotFound:
		return http.StatusNotFound
	case runs.CodeAlreadyExists, runs.CodeConflict:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, f func(*runs.Store, *http.Request) (any, error)) {
	st := a.store()
	if st == nil {
		writeJSON(w, http.StatusServiceUnavailable, ErrorBody{ErrorInfo{ID: "unavailable", Message: "the trainer is not connected to NATS yet"}})
		return
	}
	out, err := f(st, r)
	if err != nil {
		code := runs.CodeOf(err)
		id := string(code)
		if code == "" {
			id = "internal"
			a.logger.Error("http request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		writeJSON(w, status(code), ErrorBody{ErrorInfo{ID: id, Message: err.Error()}})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func invalid(format string, args ...any) error {
	return &runs.Error{Code: runs.CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

// query checks that only the allowed parameters are given, once each.
func query(r *http.Request, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for k, vs := range r.URL.Query() {
		if !slices.Contains(allowed, k) {
			return nil, invalid("unknown query parameter %q (want %s)", k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, invalid("query parameter %q given %d times", k, len(vs))
		}
		out[k] = vs[0]
	}
	return out, nil
}

// List is the answer of GET /v1/runs: the newest runs first, without their
// logs (GET /v1/runs/{id} has them).
type List struct {
	Runs      []runs.Run `json:"runs"`
	Truncated bool       `json:"truncated"` // more runs matched than limit
}

func (a *API) list(st *runs.Store, r *http.Request) (any, error) {
	q, err := query(r, "model", "experiment_id", "status", "limit")
	if err != nil {
		return nil, err
	}
	limit := DefaultListLimit
	if s, ok := q["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxListLimit {
			return nil, invalid("limit %q: want 1 to %d", s, MaxListLimit)
		}
		limit = n
	}
	f := runs.Filter{Model: q["model"], ExperimentID: q["experiment_id"], Status: runs.Status(q["status"])}
	if f.Status != "" && !f.Status.Valid() {
		return nil, invalid("status %q: want RUNNING, SCHEDULED, FINISHED, FAILED or KILLED", f.Status)
	}
	all, err := st.List(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := List{Runs: all, Truncated: len(all) > limit}
	if out.Truncated {
		out.Runs = all[:limit]
	}
	for i := range out.Runs {
		out.Runs[i].Log = runs.Log{}
	}
	return out, nil
}

func (a *API) show(st *runs.Store, r *http.Request) (any, error) {
	if _, err := query(r); err != nil {
		return nil, err
	}
	return st.Run(r.Context(), r.PathValue("id"))
}

func (a *API) history(st *runs.Store, r *http.Request) (any, error) {
	if _, err := query(r); err != nil {
		return nil, err
	}
	return st.History(r.Context(), r.PathValue("id"), r.PathValue("key"))
}

// Comparison is the answer of GET /v1/runs/compare: one row per run, in
// the order asked, with the union of the runs' param and metric keys as
// columns. A run without a column's key has no entry for it.
type Comparison struct {
	Params  []string        `json:"params"`
	Metrics []string        `json:"metrics"`
	Runs    []ComparisonRow `json:"runs"`
}

// ComparisonRow is one run of a comparison.
type ComparisonRow struct {
	ID        string                `json:"id"`
	Name      string                `json:"name"`
	Model     string                `json:"model,omitempty"`
	Status    runs.Status           `json:"status"`
	StartTime int64                 `json:"start_time"`
	EndTime   int64                 `json:"end_time,omitempty"`
	Params    map[string]string     `json:"params"`
	Metrics   map[string]runs.Float `json:"metrics"`
}

func (a *API) compare(st *runs.Store, r *http.Request) (any, error) {
	q, err := query(r, "ids")
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, id := range strings.Split(q["ids"], ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) < 1 || len(ids) > MaxCompare {
		return nil, invalid("ids: %d run ids, want 1 to %d, comma-separated (ids=a,b)", len(ids), MaxCompare)
	}
	list := make([]runs.Run, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return nil, invalid("ids: run %s given twice", id)
		}
		seen[id] = true
		run, err := st.Run(r.Context(), id)
		if err != nil {
			return nil, err
		}
		list = append(list, run)
	}
	out := Comparison{Params: runs.ParamKeys(list), Metrics: runs.MetricKeys(list), Runs: make([]ComparisonRow, 0, len(list))}
	for _, run := range list {
		row := ComparisonRow{
			ID: run.ID, Name: run.Name, Model: run.Model, Status: run.Status, StartTime: run.StartTime, EndTime: run.EndTime,
			Params: run.Params, Metrics: map[string]runs.Float{},
		}
		if row.Params == nil {
			row.Params = map[string]string{}
		}
		for k, m := range run.Metrics {
			row.Metrics[k] = m.Value
		}
		out.Runs = append(out.Runs, row)
	}
	return out, nil
}
