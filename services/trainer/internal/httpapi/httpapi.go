// Package httpapi is the trainer's HTTP API: start a job, read jobs (with
// their steps while they run) and read a model's applied spec.
package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/trainspec"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
	"github.com/tributary-ml/tributary/services/trainer/internal/triggers"
)

// Reasons of the API's errors.
const (
	ReasonMalformedRequest reason.ID = "malformed_request"
	ReasonJobNotFound      reason.ID = "job_not_found"
	ReasonSpecNotFound     reason.ID = "spec_not_found"
)

// Submitter submits jobs.
type Submitter interface {
	Submit(ctx context.Context, req jobs.Request) (jobs.Job, jobs.Outcome, error)
}

// API serves the trainer's endpoints.
type API struct {
	sub   Submitter
	store *jobs.Store
	specs jetstream.KeyValue
}

// New returns the API.
func New(sub Submitter, store *jobs.Store, specs jetstream.KeyValue) *API {
	return &API{sub: sub, store: store, specs: specs}
}

// Patterns are the API's routes.
func Patterns() []string {
	return []string{"POST /v1/models/{model}/train", "GET /v1/models/{model}/spec", "GET /v1/jobs/{id}", "GET /v1/jobs"}
}

// Handle registers the endpoints (Patterns).
func (a *API) Handle(handle func(pattern string, h http.Handler)) {
	for i, h := range []http.HandlerFunc{a.train, a.spec, a.job, a.list} {
		handle(Patterns()[i], h)
	}
}

// TrainRequest is the optional body of POST /v1/models/{model}/train.
type TrainRequest struct {
	JobID       string            `json:"job_id,omitempty"`
	Reason      string            `json:"reason,omitempty"`
	RequestedBy string            `json:"requested_by,omitempty"`
	Runner      string            `json:"runner,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
}

// TrainResponse answers it.
type TrainResponse struct {
	Outcome jobs.Outcome `json:"outcome"`
	Job     jobs.Job     `json:"job"`
}

// NewJobID returns a new job id.
func NewJobID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (a *API) train(w http.ResponseWriter, r *http.Request) {
	var req TrainRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		httperror.Write(w, http.StatusBadRequest, ReasonMalformedRequest, "read body: "+err.Error())
		return
	}
	if len(body) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			httperror.Write(w, http.StatusBadRequest, ReasonMalformedRequest, "decode body: "+err.Error())
			return
		}
	}
	if req.JobID == "" {
		req.JobID = NewJobID()
	}
	if req.RequestedBy == "" {
		req.RequestedBy = "http"
	}
	if err := triggers.ValidJobID(req.JobID); err != nil {
		httperror.Write(w, http.StatusBadRequest, ReasonMalformedRequest, err.Error())
		return
	}
	modelName := r.PathValue("model")
	if _, err := trainspec.Load(r.Context(), a.specs, modelName); err != nil {
		if errors.Is(err, trainspec.ErrNotApplied) {
			httperror.Write(w, http.StatusNotFound, ReasonSpecNotFound, err.Error())
			return
		}
		httperror.Write(w, http.StatusServiceUnavailable, reason.Unavailable, err.Error())
		return
	}
	// The job outlives the request: it runs under the service's context.
	j, out, err := a.sub.Submit(context.WithoutCancel(r.Context()), jobs.Request{JobID: req.JobID, Model: modelName, Trigger: event.TriggerManual, Reason: req.Reason, RequestedBy: req.RequestedBy, Runner: req.Runner, Params: req.Params})
	if err != nil {
		if errors.Is(err, triggers.ErrBadRequest) {
			httperror.Write(w, http.StatusBadRequest, ReasonMalformedRequest, err.Error())
			return
		}
		httperror.Write(w, http.StatusServiceUnavailable, reason.Unavailable, err.Error())
		return
	}
	status := http.StatusAccepted
	if out == jobs.OutcomeDuplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, TrainResponse{Outcome: out, Job: j})
}

func (a *API) job(w http.ResponseWriter, r *http.Request) {
	j, err := a.store.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, jobs.ErrNotFound) {
		httperror.Write(w, http.StatusNotFound, ReasonJobNotFound, err.Error())
		return
	}
	if err != nil {
		httperror.Write(w, http.StatusServiceUnavailable, reason.Unavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			httperror.Write(w, http.StatusBadRequest, ReasonMalformedRequest, "limit: want a positive integer")
			return
		}
		limit = n
	}
	js, err := a.store.List(r.Context(), r.URL.Query().Get("model"), limit)
	if err != nil {
		httperror.Write(w, http.StatusServiceUnavailable, reason.Unavailable, err.Error())
		return
	}
	if js == nil {
		js = []jobs.Job{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": js})
}

func (a *API) spec(w http.ResponseWriter, r *http.Request) {
	st, err := trainspec.Load(r.Context(), a.specs, r.PathValue("model"))
	if errors.Is(err, trainspec.ErrNotApplied) {
		httperror.Write(w, http.StatusNotFound, ReasonSpecNotFound, err.Error())
		return
	}
	if err != nil {
		httperror.Write(w, http.StatusServiceUnavailable, reason.Unavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
