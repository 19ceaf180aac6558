// Package api serves online feature reads over HTTP: POST /v1/features for
// many entities and feature references at once, GET
// /v1/features/{view}/{entity} for one entity's whole view. Values are
// computed from the Redis tiles with libs/tiles at the instant of the
// request (as_of), which the answer carries.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/features/internal/catalog"
	"github.com/tributary-ml/tributary/services/features/internal/offline"
)

// Limits of one request.
const (
	MaxEntities = 1000
	MaxFeatures = 500
	// MaxBodyBytes bounds the body of POST /v1/features.
	MaxBodyBytes = 1 << 20
)

// Reader reads feature values of entities in one view.
type Reader interface {
	Read(ctx context.Context, p *tiles.Plan, entities []string, asOf int64) ([][]tiles.Value, error)
}

var _ Reader = (*tiles.Store)(nil)

// API is the HTTP handler set.
type API struct {
	views  func() *catalog.Snapshot
	reader Reader
	logger *slog.Logger
	now    func() time.Time
}

// New returns the API.
func New(views func() *catalog.Snapshot, reader Reader, logger *slog.Logger) *API {
	return &API{views: views, reader: reader, logger: logger, now: time.Now}
}

// Register adds the routes to mux-like handle.
func (a *API) Register(handle func(pattern string, h http.Handler)) {
	handle("POST /v1/features", http.HandlerFunc(a.readMany))
	handle("GET /v1/features/{view}/{entity}", http.HandlerFunc(a.readOne))
}

// Value is one feature value in an answer: value is null when the entity has
// none; event_time is the time of the newest event it includes.
type Value struct {
	Value     any        `json:"value"`
	EventTime *time.Time `json:"event_time"`
}

// Request is the body of POST /v1/features.
type Request struct {
	Entities []string `json:"entities"`
	Features []string `json:"features"`
}

// EntityValues are one entity's values, by feature reference (or name).
type EntityValues struct {
	Entity string           `json:"entity"`
	Values map[string]Value `json:"values"`
}

// Response is the answer of POST /v1/features.
type Response struct {
	AsOf    time.Time      `json:"as_of"`
	Results []EntityValues `json:"results"`
}

// ViewResponse is the answer of GET /v1/features/{view}/{entity}.
type ViewResponse struct {
	View    string           `json:"view"`
	Version string           `json:"version"`
	Entity  string           `json:"entity"`
	AsOf    time.Time        `json:"as_of"`
	Values  map[string]Value `json:"values"`
}

// fail answers with the error envelope of libs/httperror.
func fail(w http.ResponseWriter, code int, id reason.ID, format string, args ...any) {
	httperror.Write(w, code, id, fmt.Sprintf(format, args...))
}

// decodeStrict decodes one JSON document with only known fields and
// nothing but white space after it.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if rest := bytes.TrimSpace(raw[dec.InputOffset():]); len(rest) > 0 {
		return fmt.Errorf("data after the JSON document: %.32q", rest)
	}
	return nil
}

// decodeRequest reads the body of r into v strictly: Content-Type
// application/json (or none), at most MaxBodyBytes, one JSON document with
// only known fields and nothing after it. On a refusal it has answered and
// returns false.
func decodeRequest(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			fail(w, http.StatusUnsupportedMediaType, reason.UnsupportedMediaType, "Content-Type %q: want application/json", ct)
			return false
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err == nil {
		if req, ok := v.(*Request); ok && parseRequest(raw, req) {
			return true
		}
		err = decodeStrict(raw, v)
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooLarge):
		fail(w, http.StatusRequestEntityTooLarge, reason.RequestTooLarge, "body: more than %d bytes", tooLarge.Limit)
	default:
		fail(w, http.StatusBadRequest, reason.MalformedRequest, "body: %v", err)
	}
	return false
}

func (a *API) readMany(w http.ResponseWriter, r *http.Request) {
	var req Request
	if !decodeRequest(w, r, &req) {
		return
	}
	switch {
	case len(req.Entities) == 0:
		fail(w, http.StatusBadRequest, reason.MalformedRequest, "entities: empty")
		return
	case len(req.Entities) > MaxEntities:
		fail(w, http.StatusBadRequest, reason.TooManyEntities, "entities: %d, at most %d", len(req.Entities), MaxEntities)
		return
	case len(req.Features) > MaxFeatures:
		fail(w, http.StatusBadRequest, reason.TooManyFeatures, "features: %d, at most %d", len(req.Features), MaxFeatures)
		return
	}
	refs, err := offline.ResolveRefs(a.views(), req.Features)
	if err != nil {
		id := reason.UnknownFeature
		if errors.Is(err, offline.ErrUnknownView) {
			id = reason.UnknownView
		}
		fail(w, http.StatusBadRequest, id, "%v", err)
		return
	}
	asOf := a.now().UnixMilli()
	var plans []*tiles.Plan
	cols := make([]column, 0, len(refs))
	for _, ref := range refs {
		i := slices.Index(plans, ref.Plan)
		if i < 0 {
			i = len(plans)
			plans = append(plans, ref.Plan)
		}
		cols = append(cols, column{name: ref.Name, plan: i, index: ref.Index})
	}
	vals := make([][][]tiles.Value, len(plans))
	for i, p := range plans {
		v, err := a.reader.Read(r.Context(), p, req.Entities, asOf)
		if err != nil {
			a.unavailable(w, err)
			return
		}
		vals[i] = v
	}
	cols = sortColumns(cols)
	writeBytes(w, appendResponse(make([]byte, 0, 64+len(req.Entities)*(32+len(cols)*64)), asOf, req.Entities, cols, vals))
}

// sortColumns orders the columns by name, as encoding/json orders map keys,
// keeping one of each name.
func sortColumns(cols []column) []column {
	slices.SortStableFunc(cols, func(x, y column) int { return strings.Compare(x.name, y.name) })
	return slices.CompactFunc(cols, func(x, y column) bool { return x.name == y.name })
}

func writeBytes(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (a *API) readOne(w http.ResponseWriter, r *http.Request) {
	view, entity := r.PathValue("view"), r.PathValue("entity")
	p, ok := a.views().View(view)
	if !ok {
		fail(w, http.StatusBadRequest, reason.UnknownView, "unknown view %q", view)
		return
	}
	asOf := a.now().UnixMilli()
	vals, err := a.reader.Read(r.Context(), p, []string{entity}, asOf)
	if err != nil {
		a.unavailable(w, err)
		return
	}
	cols := make([]column, len(p.View.Features))
	for i, f := range p.View.Features {
		cols[i] = column{name: f.Name, index: i}
	}
	cols = sortColumns(cols)
	writeBytes(w, appendViewResponse(make([]byte, 0, 128+len(cols)*64), view, p.View.Version, entity, asOf, cols, vals[0]))
}

func (a *API) unavailable(w http.ResponseWriter, err error) {
	if errors.Is(err, tiles.ErrCorrupt) {
		a.logger.Error("corrupt online state", "error", err)
		fail(w, http.StatusInternalServerError, reason.CorruptState, "%v", err)
		return
	}
	a.logger.Warn("online read failed", "error", err)
	w.Header().Set("Retry-After", "1")
	fail(w, http.StatusServiceUnavailable, reason.Unavailable, "online store: %v", err)
}
