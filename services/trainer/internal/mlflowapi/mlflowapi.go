// Package mlflowapi serves the subset of MLflow's tracking REST API that the
// mlflow Python client uses for start_run, log_param(s), log_metric(s),
// set_tag, log_batch and end_run, mapped onto the trainer's runs: an MLflow
// run is a Tributary run (runs.Run) and an MLflow experiment a
// runs.Experiment. Errors are MLflow's {"error_code", "message"} with
// MLflow's codes and HTTP statuses.
package mlflowapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
)

// MaxBodyBytes bounds a request body: a log-batch at MLflow's limits (1,000
// metrics, 100 params of 6,000 bytes, 100 tags of 8,000 bytes) fits.
const MaxBodyBytes = 2 << 20

// MLflow's per-request limits of log-batch.
const (
	MaxBatchMetrics = 1000
	MaxBatchParams  = 100
	MaxBatchTags    = 100
	MaxBatchTotal   = 1000
)

// Prefix is the path prefix of the API.
const Prefix = "/api/2.0/mlflow/"

// MLflow error codes used here.
const (
	CodeInvalidParameterValue = "INVALID_PARAMETER_VALUE"
	CodeResourceDoesNotExist  = "RESOURCE_DOES_NOT_EXIST"
	CodeResourceAlreadyExists = "RESOURCE_ALREADY_EXISTS"
	CodeResourceLimitExceeded = "RESOURCE_LIMIT_EXCEEDED"
	CodeResourceConflict      = "RESOURCE_CONFLICT"
	CodeEndpointNotFound      = "ENDPOINT_NOT_FOUND"
	CodeNotImplemented        = "NOT_IMPLEMENTED"
	CodeTemporarilyUnavail    = "TEMPORARILY_UNAVAILABLE"
	CodeInternalError         = "INTERNAL_ERROR"
)

// Error is an MLflow error answer.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"error_code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalid(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidParameterValue, Message: fmt.Sprintf(format, args...)}
}

// errorOf maps a store error to MLflow's code and status. A limit is 400,
// not 429, so that the client does not retry what can never succeed.
func errorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	msg := err.Error()
	switch runs.CodeOf(err) {
	case runs.CodeNotFound:
		return &Error{Status: http.StatusNotFound, Code: CodeResourceDoesNotExist, Message: msg}
	case runs.CodeAlreadyExists:
		return &Error{Status: http.StatusBadRequest, Code: CodeResourceAlreadyExists, Message: msg}
	case runs.CodeInvalid:
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidParameterValue, Message: msg}
	case runs.CodeLimitExceeded:
		return &Error{Status: http.StatusBadRequest, Code: CodeResourceLimitExceeded, Message: msg}
	case runs.CodeConflict:
		return &Error{Status: http.StatusConflict, Code: CodeResourceConflict, Message: msg}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternalError, Message: msg}
}

// API serves the MLflow tracking endpoints.
type API struct {
	store  func() *runs.Store
	logger *slog.Logger
}

// New returns the API over the store that store returns; while it returns
// nil (NATS not reached yet) every endpoint answers 503
// TEMPORARILY_UNAVAILABLE, which the mlflow client retries.
func New(store func() *runs.Store, logger *slog.Logger) *API {
	return &API{store: store, logger: logger}
}

// Routes returns the API's patterns and handlers, for service.Runtime.Handle.
func (a *API) Routes() map[string]http.Handler {
	h := func(f func(*runs.Store, *http.Request) (any, error)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, f) })
	}
	return map[string]http.Handler{
		"POST " + Prefix + "experiments/create":     h(a.createExperiment),
		"GET " + Prefix + "experiments/get":         h(a.getExperiment),
		"GET " + Prefix + "experiments/get-by-name": h(a.getExperimentByName),
		"POST " + Prefix + "runs/create":            h(a.createRun),
		"POST " + Prefix + "runs/update":            h(a.updateRun),
		"GET " + Prefix + "runs/get":                h(a.getRun),
		"POST " + Prefix + "runs/log-parameter":     h(a.logParam),
		"POST " + Prefix + "runs/log-metric":        h(a.logMetric),
		"POST " + Prefix + "runs/log-batch":         h(a.logBatch),
		"POST " + Prefix + "runs/set-tag":           h(a.setTag),
		"GET " + Prefix + "metrics/get-history":     h(a.getMetricHistory),
		Prefix:                                      http.HandlerFunc(a.notFound),
		"/api/2.0/mlflow-artifacts/":                http.HandlerFunc(a.noArtifacts),
	}
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, f func(*runs.Store, *http.Request) (any, error)) {
	st := a.store()
	if st == nil {
		writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavail, Message: "the trainer is not connected to NATS yet"})
		return
	}
	out, err := f(st, r)
	if err != nil {
		e := errorOf(err)
		if e.Status >= 500 {
			a.logger.Error("mlflow request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, e)
}

func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, &Error{Status: http.StatusNotFound, Code: CodeEndpointNotFound,
		Message: fmt.Sprintf("%s %s is not an endpoint of Tributary's MLflow tracking API (see services/trainer/README.md for the supported subset)", r.Method, r.URL.Path)})
}

func (a *API) noArtifacts(w http.ResponseWriter, r *http.Request) {
	writeError(w, &Error{Status: http.StatusNotImplemented, Code: CodeNotImplemented,
		Message: "artifacts cannot be uploaded through the MLflow API: the trainer records a run's artifacts itself (the exec runner's model file)"})
}

// decode reads a JSON request body strictly: one object, bounded, no
// unknown fields, nothing after it.
func decode(r *http.Request, v any) error {
	body := http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeInvalidParameterValue, Message: fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes)}
		}
		if errors.Is(err, io.EOF) {
			return invalid("request body: empty, want a JSON object")
		}
		return invalid("request body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("request body: more than one JSON value")
	}
	return nil
}

// query reads the query parameters of a GET: only the allowed names, each
// at most once.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q := r.URL.Query()
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			return nil, invalid("unknown query parameter %q (want %s)", k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, invalid("query parameter %q given %d times", k, len(vs))
		}
	}
	return q, nil
}

func runIDOf(runID, runUUID string) (string, error) {
	if runID == "" {
		runID = runUUID
	}
	if runID == "" {
		return "", invalid("Missing value for required parameter 'run_id'")
	}
	return runID, nil
}

func required(name, v string) error {
	if v == "" {
		return invalid("Missing value for required parameter '%s'", name)
	}
	return nil
}

// ArtifactURI is the artifact_uri of a run: where the mlflow client would
// upload artifacts, which this API refuses (501).
func ArtifactURI(r runs.Run) string {
	return "mlflow-artifacts:/" + r.ExperimentID + "/" + r.ID + "/artifacts"
}

func toExperiment(e runs.Experiment) experimentJSON {
	return experimentJSON{
		ExperimentID: e.ID, Name: e.Name, ArtifactLocation: e.ArtifactLocation, LifecycleStage: e.LifecycleStage,
		LastUpdateTime: e.LastUpdateTime, CreationTime: e.CreationTime, Tags: sortedPairs(e.Tags),
	}
}

func sortedPairs(m map[string]string) []keyValue {
	out := make([]keyValue, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, keyValue{Key: k, Value: m[k]})
	}
	return out
}

func toRunInfo(r runs.Run) runInfoJSON {
	return runInfoJSON{
		RunID: r.ID, RunUUID: r.ID, RunName: r.Name, ExperimentID: r.ExperimentID, UserID: r.UserID,
		Status: string(r.Status), StartTime: r.StartTime, EndTime: r.EndTime,
		ArtifactURI: ArtifactURI(r), LifecycleStage: r.LifecycleStage,
	}
}

func toRun(r runs.Run) runJSON {
	metrics := make([]metricJSON, 0, len(r.Metrics))
	for _, k := range slices.Sorted(maps.Keys(r.Metrics)) {
		m := r.Metrics[k]
		metrics = append(metrics, metricJSON{Key: k, Value: m.Value, Timestamp: m.Timestamp, Step: m.Step, DatasetName: m.Dataset})
	}
	return runJSON{
		Info: toRunInfo(r),
		Data: runDataJSON{Metrics: metrics, Params: sortedPairs(r.Params), Tags: sortedPairs(r.Tags)},
	}
}

func (a *API) createExperiment(st *runs.Store, r *http.Request) (any, error) {
	var req createExperimentReq
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for _, t := range req.Tags {
		tags[t.Key] = t.Value
	}
	e, err := st.CreateExperiment(r.Context(), req.Name, req.ArtifactLocation, tags)
	if err != nil {
		return nil, err
	}
	return map[string]string{"experiment_id": e.ID}, nil
}

func (a *API) getExperiment(st *runs.Store, r *http.Request) (any, error) {
	q, err := query(r, "experiment_id")
	if err != nil {
		return nil, err
	}
	id := q.Get("experiment_id")
	if err := required("experiment_id", id); err != nil {
		return nil, err
	}
	e, err := st.Experiment(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"experiment": toExperiment(e)}, nil
}

func (a *API) getExperimentByName(st *runs.Store, r *http.Request) (any, error) {
	q, err := query(r, "experiment_name")
	if err != nil {
		return nil, err
	}
	name := q.Get("experiment_name")
	if err := required("experiment_name", name); err != nil {
		return nil, err
	}
	e, err := st.ExperimentByName(r.Context(), name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"experiment": toExperiment(e)}, nil
}

func (a *API) createRun(st *runs.Store, r *http.Request) (any, error) {
	var req createRunReq
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for _, t := range req.Tags {
		tags[t.Key] = t.Value
	}
	name := req.RunName
	if name == "" {
		name = tags[runs.TagRunName]
	}
	run := runs.Run{
		ID: runs.NewRunID(), ExperimentID: req.ExperimentID, Name: name, UserID: req.UserID,
		StartTime: int64(req.StartTime), Tags: tags, Status: runs.StatusRunning,
	}
	if run.Name == "" {
		run.Name = "run-" + run.ID[:8]
	}
	tags[runs.TagRunName] = run.Name // MLflow keeps the tag equal to the name
	created, err := st.CreateRun(r.Context(), run)
	if err != nil {
		return nil, err
	}
	return map[string]any{"run": toRun(created)}, nil
}

func (a *API) updateRun(st *runs.Store, r *http.Request) (any, error) {
	var req updateRunReq
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runIDOf(req.RunID, req.RunUUID)
	if err != nil {
		return nil, err
	}
	run, err := st.SetStatus(r.Context(), id, runs.Status(req.Status), int64(req.EndTime), req.RunName)
	if err != nil {
		return nil, err
	}
	return map[string]any{"run_info": toRunInfo(run)}, nil
}

func (a *API) getRun(st *runs.Store, r *http.Request) (any, error) {
	q, err := query(r, "run_id", "run_uuid")
	if err != nil {
		return nil, err
	}
	id, err := runIDOf(q.Get("run_id"), q.Get("run_uuid"))
	if err != nil {
		return nil, err
	}
	run, err := st.Run(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"run": toRun(run)}, nil
}

func (a *API) getMetricHistory(st *runs.Store, r *http.Request) (any, error) {
	q, err := query(r, "run_id", "run_uuid", "metric_key", "page_token", "max_results")
	if err != nil {
		return nil, err
	}
	id, err := runIDOf(q.Get("run_id"), q.Get("run_uuid"))
	if err != nil {
		return nil, err
	}
	key := q.Get("metric_key")
	if err := required("metric_key", key); err != nil {
		return nil, err
	}
	if q.Get("page_token") != "" {
		return nil, invalid("page_token: the history is answered in one page")
	}
	h, err := st.History(r.Context(), id, key)
	if err != nil {
		return nil, err
	}
	out := make([]metricJSON, 0, len(h.Points))
	for _, p := range h.Points {
		out = append(out, metricJSON{Key: key, Value: p.Value, Timestamp: p.Timestamp, Step: p.Step, DatasetName: p.Dataset, RunID: id})
	}
	return map[string]any{"metrics": out}, nil
}

func (a *API) logParam(st *runs.Store, r *http.Request) (any, error) {
	var req logParamReq
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runIDOf(req.RunID, req.RunUUID)
	if err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	if req.Value == nil {
		return nil, invalid("Missing value for required parameter 'value'")
	}
	_, err = st.LogBatch(r.Context(), id, runs.Batch{Params: []runs.Param{{Key: req.Key, Value: *req.Value}}})
	return struct{}{}, err
}

func (a *API) setTag(st *runs.Store, r *http.Request) (any, error) {
	var req setTagReq
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runIDOf(req.RunID, req.RunUUID)
	if err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	if req.Value == nil {
		return nil, invalid("Missing value for required parameter 'value'")
	}
	_, err = st.LogBatch(r.Context(), id, runs.Batch{Tags: []runs.Tag{{Key: req.Key, Value: *req.Value}}})
	return struct{}{}, err
}

func metricOf(key string, value *runs.Float, ts *int64JSON, step int64JSON, dataset string) (runs.Metric, error) {
	if err := required("key", key); err != nil {
		return runs.Metric{}, err
	}
	if value == nil {
		return runs.Metric{}, invalid("Missing value for required parameter 'value' of metric %q", key)
	}
	if ts == nil {
		return runs.Metric{}, invalid("Missing value for required parameter 'timestamp' of metric %q", key)
	}
	return runs.Metric{Key: key, Value: *value, Timestamp: int64(*ts), Step: int64(step), Dataset: dataset}, nil
}

func (a *API) logMetric(st *runs.Store, r *http.Request) (any, error) {
	var req logMetricReq
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runIDOf(req.RunID, req.RunUUID)
	if err != nil {
		return nil, err
	}
	m, err := metricOf(req.Key, req.Value, req.Timestamp, req.Step, req.DatasetName)
	if err != nil {
		return nil, err
	}
	_, err = st.LogBatch(r.Context(), id, runs.Batch{Metrics: []runs.Metric{m}})
	return struct{}{}, err
}

func (a *API) logBatch(st *runs.Store, r *http.Request) (any, error) {
	var req logBatchReq
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runIDOf(req.RunID, "")
	if err != nil {
		return nil, err
	}
	switch {
	case len(req.Metrics) > MaxBatchMetrics:
		return nil, invalid("A batch logging request can contain at most %d metrics. Got %d metrics.", MaxBatchMetrics, len(req.Metrics))
	case len(req.Params) > MaxBatchParams:
		return nil, invalid("A batch logging request can contain at most %d params. Got %d params.", MaxBatchParams, len(req.Params))
	case len(req.Tags) > MaxBatchTags:
		return nil, invalid("A batch logging request can contain at most %d tags. Got %d tags.", MaxBatchTags, len(req.Tags))
	case len(req.Metrics)+len(req.Params)+len(req.Tags) > MaxBatchTotal:
		return nil, invalid("A batch logging request can contain at most %d metrics, params and tags in total. Got %d.",
			MaxBatchTotal, len(req.Metrics)+len(req.Params)+len(req.Tags))
	}
	var b runs.Batch
	for _, bm := range req.Metrics {
		m, err := metricOf(bm.Key, bm.Value, bm.Timestamp, bm.Step, bm.DatasetName)
		if err != nil {
			return nil, err
		}
		b.Metrics = append(b.Metrics, m)
	}
	for _, p := range req.Params {
		if err := required("key", p.Key); err != nil {
			return nil, err
		}
		b.Params = append(b.Params, runs.Param(p))
	}
	for _, t := range req.Tags {
		if err := required("key", t.Key); err != nil {
			return nil, err
		}
		b.Tags = append(b.Tags, runs.Tag(t))
	}
	_, err = st.LogBatch(r.Context(), id, b)
	return struct{}{}, err
}

// TrackingEnv is the environment that makes an mlflow client in a child
// process log into run runID of the API at trackingURI (the trainer's base
// URL, such as http://trainer:8083): the exec runner adds it to the
// command's environment, and the script's mlflow.start_run() resumes the
// job's run.
func TrackingEnv(trackingURI, runID string) []string {
	return []string{"MLFLOW_TRACKING_URI=" + trackingURI, "MLFLOW_RUN_ID=" + runID}
}
