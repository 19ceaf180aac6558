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
	"sync"
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
	views   func() *catalog.Snapshot
	reader  Reader
	logger  *slog.Logger
	now     func() time.Time
	queries queryCache
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

// checkContentType refuses a Content-Type other than application/json (or
// none). On a refusal it has answered and returns false.
func checkContentType(w http.ResponseWriter, r *http.Request) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			fail(w, http.StatusUnsupportedMediaType, reason.UnsupportedMediaType, "Content-Type %q: want application/json", ct)
			return false
		}
	}
	return true
}

// bodyError answers the error of reading or decoding a body.
func bodyError(w http.ResponseWriter, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		fail(w, http.StatusRequestEntityTooLarge, reason.RequestTooLarge, "body: more than %d bytes", tooLarge.Limit)
		return
	}
	fail(w, http.StatusBadRequest, reason.MalformedRequest, "body: %v", err)
}

// readBody reads the body of r, at most MaxBodyBytes, into buf (grown if
// need be): a body of known length is read in one piece, without the
// readers io.ReadAll and http.MaxBytesReader allocate.
func readBody(w http.ResponseWriter, r *http.Request, buf []byte) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= MaxBodyBytes {
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
}

// buffers are the request bodies and answers of reads, reused: a read of
// 1 entity x 20 features allocates a handful of objects besides (the
// entity, its values, net/http's and go-redis's own).
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooled is the largest buffer kept for reuse.
const maxPooled = 64 << 10

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(p *[]byte, b []byte) {
	if cap(b) <= maxPooled {
		*p = b[:0]
		buffers.Put(p)
	}
}

func (a *API) readMany(w http.ResponseWriter, r *http.Request) {
	if !checkContentType(w, r) {
		return
	}
	in := getBuffer()
	raw, err := readBody(w, r, *in)
	if err != nil {
		bodyError(w, err)
		return
	}
	defer putBuffer(in, raw)
	// The resolved feature list of a body whose features array has the
	// text of an earlier one's (the usual client sends the same list every
	// time) is taken from the cache: not parsed, resolved or sorted again.
	snap := a.views()
	var (
		req  Request
		q    *query
		text []byte // the features array's text, when q was not known
	)
	known := func(f []byte) []string {
		if q = a.queries.get(snap, f); q != nil {
			return q.features
		}
		text = f
		return nil
	}
	if !parseRequestKnown(raw, &req, known) {
		q, text = nil, nil
		// Decoded into a Request of its own: req, not given to
		// encoding/json, stays on the stack.
		var slow Request
		if err := decodeStrict(raw, &slow); err != nil {
			bodyError(w, err)
			return
		}
		req = slow
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
	if q == nil {
		if q, err = resolve(snap, req.Features); err != nil {
			id := reason.UnknownFeature
			if errors.Is(err, offline.ErrUnknownView) {
				id = reason.UnknownView
			}
			fail(w, http.StatusBadRequest, id, "%v", err)
			return
		}
		if text != nil {
			a.queries.put(snap, string(text), q)
		}
	}
	asOf := a.now().UnixMilli()
	var one [1][][]tiles.Value
	vals := one[:0]
	if len(q.plans) > 1 {
		vals = make([][][]tiles.Value, 0, len(q.plans))
	}
	for _, p := range q.plans {
		v, err := a.reader.Read(r.Context(), p, req.Entities, asOf)
		if err != nil {
			a.unavailable(w, err)
			return
		}
		vals = append(vals, v)
	}
	out := getBuffer()
	b := appendResponse((*out)[:0], asOf, req.Entities, q.cols, vals)
	writeBytes(w, b)
	putBuffer(out, b)
}

// query is a resolved feature list: the views to read and the answer's
// columns.
type query struct {
	features []string
	plans    []*tiles.Plan
	cols     []column // sorted by name, one per name
}

func resolve(snap *catalog.Snapshot, features []string) (*query, error) {
	refs, err := offline.ResolveRefs(snap, features)
	if err != nil {
		return nil, err
	}
	q := &query{features: features, cols: make([]column, 0, len(refs))}
	for _, ref := range refs {
		i := slices.Index(q.plans, ref.Plan)
		if i < 0 {
			i = len(q.plans)
			q.plans = append(q.plans, ref.Plan)
		}
		q.cols = append(q.cols, column{name: ref.Name, plan: i, index: ref.Index})
	}
	q.cols = sortColumns(q.cols)
	return q, nil
}

// queryCache remembers the resolved feature lists of the catalog snapshot
// it was filled from, by the text of the request's features array; a new
// snapshot (a view applied, changed or deleted) starts it afresh.
type queryCache struct {
	mu   sync.RWMutex
	snap *catalog.Snapshot
	m    map[string]*query
}

// maxQueries bounds the lists remembered: clients sending ever new lists
// are served, resolving each.
const maxQueries = 1024

func (c *queryCache) get(snap *catalog.Snapshot, text []byte) *query {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.snap != snap {
		return nil
	}
	return c.m[string(text)]
}

func (c *queryCache) put(snap *catalog.Snapshot, text string, q *query) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != snap || c.m == nil {
		c.snap, c.m = snap, map[string]*query{}
	}
	if len(c.m) < maxQueries {
		c.m[text] = q
	}
}

// sortColumns orders the columns by name, as encoding/json orders map keys,
// keeping one of each name.
func sortColumns(cols []column) []column {
	slices.SortStableFunc(cols, func(x, y column) int { return strings.Compare(x.name, y.name) })
	return slices.CompactFunc(cols, func(x, y column) bool { return x.name == y.name })
}

// contentTypeJSON is the Content-Type of every answer, shared (net/http
// copies the header before writing it, and nothing changes it).
var contentTypeJSON = []string{"application/json"}

// chunkingSize is net/http's bufferBeforeChunkingSize: an answer at most
// that long, written at once, gets its Content-Length from net/http
// (without allocating); a longer one is given it here, so that it is not
// chunked.
const chunkingSize = 2048

func writeBytes(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	if len(b) >= chunkingSize {
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
	}
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
