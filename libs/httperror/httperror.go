package httperror

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/tributary-ml/tributary/libs/reason"
)

// Body is the JSON body of an error answer.
type Body struct {
	// Error is the human message (the Open Inference Protocol's field).
	Error string `json:"error"`
	// Reason is the stable id of the error.
	Reason reason.ID `json:"reason"`
	// ID, when set, is the id of the one item the request carried (the
	// event id of a single refused event).
	ID string `json:"id,omitempty"`
	// Details, when set, name each problem of the request.
	Details []Detail `json:"details,omitempty"`
}

// Detail is one problem of a request: a field that breaks a rule, an event
// of a batch that was refused.
type Detail struct {
	// Field locates the problem in the request ("data.amount",
	// "events[3]"); empty when it is the whole request.
	Field string `json:"field,omitempty"`
	// Reason is the stable id of this problem, when it has its own.
	Reason reason.ID `json:"reason,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// Write answers status (4xx or 5xx) with the envelope. An empty reason is
// reason.Internal for a 5xx status and "bad_request" style ids (the status
// text in snake_case) for a 4xx one.
func Write(w http.ResponseWriter, status int, id reason.ID, msg string, details ...Detail) {
	WriteBody(w, status, Body{Error: msg, Reason: id, Details: details})
}

// WriteBody answers status with b (see Write for an empty reason).
func WriteBody(w http.ResponseWriter, status int, b Body) {
	if b.Reason == "" {
		b.Reason = StatusReason(status)
	}
	if b.Error == "" {
		b.Error = http.StatusText(status)
	}
	// Not HTML-escaped: the body is read by people in a terminal, and
	// nosniff keeps browsers from taking it for HTML.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil { // strings only: cannot fail
		out.Reset()
		out.WriteString(`{"error":"encode error body","reason":"internal"}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(out.Bytes())
}

// StatusReason is the default reason of a status: reason.Internal for a 5xx
// status (reason.Unavailable for 503), otherwise the status text in
// snake_case ("not_found", "request_entity_too_large").
func StatusReason(status int) reason.ID {
	switch {
	case status == http.StatusServiceUnavailable:
		return reason.Unavailable
	case status >= 500:
		return reason.Internal
	}
	text := http.StatusText(status)
	if text == "" {
		return reason.Internal
	}
	var b strings.Builder
	for _, c := range strings.ToLower(text) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	return reason.ID(strings.TrimSuffix(b.String(), "_"))
}

// Unmatched serves mux, answering a request that matches none of its
// patterns with the envelope: 404 not_found, or 405 method_not_allowed
// with the Allow header the mux computes. Matched requests, and the
// mux's redirects (a missing trailing slash, an unclean path), are the
// mux's.
func Unmatched(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Run the mux's own answer into a recorder to learn its status and
		// Allow header, then answer with the envelope.
		rec := &recorder{header: make(http.Header)}
		h.ServeHTTP(rec, r)
		path := cut(r.URL.Path, 256)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			allow := rec.header.Get("Allow")
			w.Header().Set("Allow", allow)
			Write(w, http.StatusMethodNotAllowed, reason.MethodNotAllowed,
				fmt.Sprintf("method %s not allowed on %s (allowed: %s)", cut(r.Method, 32), path, allow))
		case http.StatusNotFound, 0:
			Write(w, http.StatusNotFound, reason.NotFound, "no route for "+cut(r.Method, 32)+" "+path)
		default: // a status ServeMux does not send for unmatched requests today
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
		}
	})
}

// NotFound answers every request with 404 not_found.
func NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Write(w, http.StatusNotFound, reason.NotFound, "no route for "+cut(r.Method, 32)+" "+cut(r.URL.Path, 256))
	})
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len() < 4096 {
		r.body.Write(b[:min(len(b), 4096-r.body.Len())])
	}
	return len(b), nil
}

// Error is an error answer, as a client sees it.
type Error struct {
	Status int
	Body
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	if e.Reason != "" {
		b.WriteString(" (" + string(e.Reason) + ")")
	}
	if e.Body.Error != "" {
		b.WriteString(": " + e.Body.Error)
	}
	return b.String()
}

// Is matches a *Error target by reason, and by status when the target's
// is set: errors.Is(err, &httperror.Error{Body: httperror.Body{Reason:
// "not_found"}}).
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return (t.Reason == "" || t.Reason == e.Reason) && (t.Status == 0 || t.Status == e.Status)
}

// ReasonOf returns the reason of the *Error in err's chain, "" when there
// is none.
func ReasonOf(err error) reason.ID {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// MaxBodyBytes bounds what Check reads of an error body.
const MaxBodyBytes = 1 << 20

// Check returns nil for a response with a status below 400, and otherwise
// an *Error decoded from its body, which it reads (at most MaxBodyBytes)
// but does not close.
func Check(resp *http.Response) error {
	if resp.StatusCode < 400 {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
	if err != nil && len(body) == 0 {
		return &Error{Status: resp.StatusCode, Body: Body{Error: fmt.Sprintf("read error body: %v", err)}}
	}
	return Parse(resp.StatusCode, body)
}

// Parse decodes an error body of status. Besides the envelope it reads the
// bodies the services answered before it, so a client works against both
// during the migration:
//
//	{"error": {"id": "<reason>", "message": "..."}}        registry
//	{"error": "<reason>", "message": "..."}                features
//	{"id": "...", "status": "rejected", "reason": "...", "message": "..."}  ingest
//	{"status": "unavailable", "message": "..."}           ingest (reason unavailable)
//
// Anything else (plain text, HTML) becomes the Error message, cut to 512
// bytes, with no reason.
func Parse(status int, body []byte) *Error {
	e := &Error{Status: status}
	var raw struct {
		Error   json.RawMessage `json:"error"`
		Reason  reason.ID       `json:"reason"`
		Message *string         `json:"message"`
		ID      string          `json:"id"`
		Details []Detail        `json:"details"`
		Status  string          `json:"status"` // ingest
	}
	if json.Unmarshal(body, &raw) != nil || (raw.Error == nil && raw.Reason == "" && raw.Status != "unavailable") {
		e.Body.Error = cut(strings.TrimSpace(string(body)), 512)
		return e
	}
	e.Reason, e.ID, e.Details = raw.Reason, raw.ID, raw.Details
	if raw.Error == nil && raw.Reason == "" { // ingest: {"status":"unavailable","message":...}
		e.Reason = reason.Unavailable
	}
	var s string
	var obj struct {
		ID      reason.ID `json:"id"`
		Message string    `json:"message"`
	}
	switch {
	case raw.Error == nil: // ingest: reason and message
		if raw.Message != nil {
			e.Body.Error = *raw.Message
		}
	case json.Unmarshal(raw.Error, &s) == nil:
		e.Body.Error = s
		if raw.Reason == "" && raw.Message != nil { // features: error is the id
			e.Reason, e.Body.Error = reason.ID(s), *raw.Message
		}
	case json.Unmarshal(raw.Error, &obj) == nil: // registry
		e.Body.Error = obj.Message
		if e.Reason == "" {
			e.Reason = obj.ID
		}
	default:
		e.Body.Error = cut(string(raw.Error), 512)
	}
	return e
}

// cut returns at most n bytes of s, not splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
