package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/services/ingest/internal/auth"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
)

// Config configures the limits of the API.
type Config struct {
	MaxBodyBytes int
	MaxBatch     int
	MaxInFlight  int
	RetryAfter   time.Duration
}

// RegisterFlags registers the http.* limits.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.MaxBodyBytes, "http.max-body-bytes", 4<<20, "Largest request body accepted (bytes); larger: 413 body_too_large.")
	fs.IntVar(&c.MaxBatch, "http.max-batch", 1000, "Most events in one batch; more: 413 batch_too_large.")
	fs.IntVar(&c.MaxInFlight, "http.max-in-flight", 512, "Most POST /v1/events requests handled at once; more: 503 with Retry-After.")
	fs.DurationVar(&c.RetryAfter, "http.retry-after", time.Second, "Retry-After sent with 503 answers (rounded up to seconds).")
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes <= 0:
		return errors.New("http.max-body-bytes: must be positive")
	case c.MaxBatch <= 0:
		return errors.New("http.max-batch: must be positive")
	case c.MaxInFlight <= 0:
		return errors.New("http.max-in-flight: must be positive")
	case c.RetryAfter <= 0:
		return errors.New("http.retry-after: must be positive")
	}
	return nil
}

// Submitter is the part of intake the API uses.
type Submitter interface {
	Submit(ctx context.Context, src intake.Source, items []intake.Item) []intake.Result
	Refused(src intake.Source, reason intake.Reason)
	Panicked(src intake.Source, r any, stack []byte)
}

var _ Submitter = (*intake.Intake)(nil)

// Handler serves POST /v1/events.
type Handler struct {
	cfg      Config
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	logger   *slog.Logger
	keys     *auth.Keys
	intake   Submitter
	slots    chan struct{}
	inFlight prometheus.Gauge
}

// New returns the handler. Each request gets a server span of tp, child of
// the request's trace context as prop reads it from the headers; intake
// writes it into the events that carry no trace context of their own.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, tp trace.TracerProvider, prop propagation.TextMapPropagator, keys *auth.Keys, in Submitter) *Handler {
	return &Handler{
		cfg: cfg, logger: logger, keys: keys, intake: in, prop: prop,
		tracer: tp.Tracer("github.com/tributary-ml/tributary/services/ingest/internal/httpapi"),
		slots:  make(chan struct{}, cfg.MaxInFlight),
		inFlight: promauto.With(reg).NewGauge(prometheus.GaugeOpts{
			Name: "tributary_ingest_http_in_flight_requests",
			Help: "POST /v1/events requests being handled (bounded by http.max-in-flight).",
		}),
	}
}

var httpSource = intake.Source{Path: "http"}

// Result is the answer about one event: the body of a 202 for a single
// event, and an entry of a batch's results. A rejected or unavailable
// event carries the fields of the error body (libs/httperror): error, the
// message, and reason, its id (unavailable for an unavailable one).
type Result struct {
	ID     string         `json:"id,omitempty"`
	Status intake.Outcome `json:"status"`
	Reason reason.ID      `json:"reason,omitempty"`
	Error  string         `json:"error,omitempty"`
}

func resultOf(r intake.Result) Result {
	out := Result{ID: r.ID, Status: r.Outcome, Reason: r.Reason, Error: r.Message}
	if r.Outcome == intake.Unavailable {
		out.Reason = reason.Unavailable
	}
	return out
}

// BatchResponse is the answer to a batch. Error and Reason are set on a
// 503 only, which makes that answer also an error body of libs/httperror
// (reason unavailable): the events whose status is unavailable must be
// sent again, the others are done.
type BatchResponse struct {
	Error       string    `json:"error,omitempty"`
	Reason      reason.ID `json:"reason,omitempty"`
	Accepted    int       `json:"accepted"`
	Duplicate   int       `json:"duplicate"`
	Rejected    int       `json:"rejected"`
	Unavailable int       `json:"unavailable"`
	Results     []Result  `json:"results"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &answerWriter{ResponseWriter: w}
	var body []byte
	defer func() {
		if p := recover(); p != nil {
			h.recovered(rw, r, body, p)
		}
	}()
	h.serve(rw, r, &body)
}

// answerWriter remembers whether the answer was started.
type answerWriter struct {
	http.ResponseWriter
	started bool
}

func (w *answerWriter) WriteHeader(code int) {
	w.started = true
	w.ResponseWriter.WriteHeader(code)
}

// recovered answers a request whose handling panicked: counted, logged,
// the body dead-lettered as internal_error, and answered 500 with that
// reason (or 503 if the dead-letter write failed, so that nothing is lost).
// A panic while doing so is left to net/http.
func (h *Handler) recovered(w *answerWriter, r *http.Request, body []byte, p any) {
	h.intake.Panicked(httpSource, p, debug.Stack())
	if w.started {
		return // the answer was under way; net/http ends the connection
	}
	rej := &intake.Rejection{Reason: reason.InternalError, Message: fmt.Sprintf("ingest failed on this request (%v); it is on the dead-letter topic", p)}
	res := h.intake.Submit(r.Context(), httpSource, []intake.Item{{Raw: body, Size: len(body), Rejection: rej}})[0]
	h.answer(w, res)
}

// answer answers a single event (or a whole request) with res: 202 with a
// Result, or an error body.
func (h *Handler) answer(w http.ResponseWriter, res intake.Result) {
	switch res.Outcome {
	case intake.Accepted, intake.Duplicate:
		writeJSON(w, http.StatusAccepted, resultOf(res))
	case intake.Rejected:
		httperror.WriteBody(w, intake.Status(res.Reason), httperror.Body{Error: res.Message, Reason: res.Reason, ID: res.ID})
	default:
		h.retryAfter(w)
		httperror.WriteBody(w, http.StatusServiceUnavailable, httperror.Body{Error: res.Message, Reason: reason.Unavailable, ID: res.ID})
	}
}

// serve handles one request; read is set to the body once it is read.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, read *[]byte) {
	key, err := h.keys.Authenticate(r)
	if err != nil {
		h.intake.Refused(httpSource, reason.Unauthenticated)
		w.Header().Set("WWW-Authenticate", `Bearer realm="tributary-ingest"`)
		httperror.Write(w, http.StatusUnauthorized, reason.Unauthenticated, err.Error())
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		h.answer(w, intake.Result{Outcome: intake.Unavailable, Message: "too many requests in flight"})
		return
	}
	h.inFlight.Inc()
	defer h.inFlight.Dec()

	body, err := readBody(r, h.cfg.MaxBodyBytes)
	*read = body
	if err != nil { // the client went away, or sent a broken chunked body
		h.intake.Refused(httpSource, reason.MalformedJSON)
		httperror.Write(w, http.StatusBadRequest, reason.MalformedJSON, "body: "+err.Error())
		return
	}
	var allowed func(string) bool
	if key != nil {
		allowed = key.Allows
	}
	m := modeOf(r.Header)
	var items []intake.Item
	whole := true
	switch {
	case len(body) > h.cfg.MaxBodyBytes:
		items = []intake.Item{rejected(reason.BodyTooLarge, body, "body: more than the limit of %d bytes", h.cfg.MaxBodyBytes)}
	case m == modeUnsupported:
		items = []intake.Item{rejected(reason.UnsupportedContentType, body,
			"Content-Type: %q is none of %s, %s, or binary mode (ce-specversion header)", r.Header.Get("Content-Type"), ContentTypeStructured, ContentTypeBatch)}
	case m == modeBatch:
		items, whole = decodeBatch(body, h.cfg.MaxBatch)
	case m == modeStructured:
		items = []intake.Item{decodeStructured(body)}
	default:
		items = []intake.Item{decodeBinary(r.Header, body)}
	}
	for i := range items {
		items[i].Allowed = allowed
	}
	ctx, span := h.tracer.Start(h.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header)), "POST /v1/events", trace.WithSpanKind(trace.SpanKindServer))
	span.SetAttributes(attribute.Int("events", len(items)))
	results := h.intake.Submit(ctx, httpSource, items)
	span.End()
	if m != modeBatch || whole {
		h.answer(w, results[0])
		return
	}
	resp := BatchResponse{Results: make([]Result, len(results))}
	for i, res := range results {
		resp.Results[i] = resultOf(res)
		switch res.Outcome {
		case intake.Accepted:
			resp.Accepted++
		case intake.Duplicate:
			resp.Duplicate++
		case intake.Rejected:
			resp.Rejected++
		default:
			resp.Unavailable++
		}
	}
	switch {
	case resp.Unavailable > 0:
		resp.Error = fmt.Sprintf("%d of %d events not written in time: send those marked unavailable again", resp.Unavailable, len(results))
		resp.Reason = reason.Unavailable
		h.retryAfter(w)
		writeJSON(w, http.StatusServiceUnavailable, resp)
	case resp.Rejected > 0:
		writeJSON(w, http.StatusMultiStatus, resp)
	default:
		writeJSON(w, http.StatusAccepted, resp)
	}
}

func (h *Handler) retryAfter(w http.ResponseWriter) {
	secs := int((h.cfg.RetryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
}

// writeJSON answers code with v, which holds strings, numbers and valid
// raw JSON only; should it not encode, the answer is 500 internal.
func writeJSON(w http.ResponseWriter, code int, v any) {
	var b []byte
	var err error
	switch v := v.(type) {
	case BatchResponse: // without reflection, the same bytes
		b = appendBatchResponse(make([]byte, 0, batchResponseSize(&v)), &v)
	case Result:
		b = appendResult(make([]byte, 0, 64), &v)
	default:
		b, err = json.Marshal(v)
	}
	if err != nil {
		httperror.Write(w, http.StatusInternalServerError, reason.Internal, "encode answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// readBody reads at most limit+1 bytes of the body, into one buffer of the
// announced length when there is one: filled exactly, then one read of a
// byte must find the end (a buffer with room to spare made bytes.Buffer's
// ReadFrom grow it before it saw the end: three times the body
// allocated, and zeroed, for each request).
func readBody(r *http.Request, limit int) ([]byte, error) {
	if r.ContentLength <= 0 || r.ContentLength > int64(limit) {
		return io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	}
	buf := make([]byte, r.ContentLength)
	for n := 0; n < len(buf); {
		m, err := r.Body.Read(buf[n:])
		n += m
		switch {
		case err == io.EOF && n < len(buf): // shorter than announced: as io.ReadAll
			return buf[:n], nil
		case err != nil && err != io.EOF:
			return buf[:n], err
		}
	}
	var one [1]byte
	for {
		m, err := r.Body.Read(one[:])
		if m > 0 { // longer than announced: the rest as before, to limit+1
			rest, err := io.ReadAll(io.LimitReader(r.Body, int64(limit-len(buf))))
			return append(append(buf, one[0]), rest...), err
		}
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, err
		}
	}
}
