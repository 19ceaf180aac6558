// Package httpapi is the registry's REST API for people and the cli: models,
// versions with lineage and metrics, artifact upload and verified download,
// alias moves, rollback, archive and the audit trail. Errors are the
// envelope of libs/httperror, {"error": "<message>", "reason": "<id>"},
// with the stable ids of model.Code (reason.Registry) and the status of
// model.HTTPStatus. Requests that match no route are the service runtime's
// (404 not_found, 405 method_not_allowed; libs/service).
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/services/registry/internal/registry"
)

// maxJSONBody bounds a JSON request body or metadata part (lineage with
// reference distributions included) as it is read; the store then bounds
// the version record to what fits in a KV value (Registry.MaxMetadataBytes,
// about 1 MB).
const maxJSONBody = 8 << 20

// transferTimeout is the read or write deadline of an artifact upload or
// download, instead of the server's default.
const transferTimeout = 15 * time.Minute

// API serves the REST API.
type API struct {
	reg     *registry.Registry
	logger  *slog.Logger
	tmpDir  string
	maxSize int64
}

// New returns the API; uploads are spooled to tmpDir ("" for the system's)
// and limited to maxArtifactBytes.
func New(reg *registry.Registry, logger *slog.Logger, tmpDir string, maxArtifactBytes int64) *API {
	return &API{reg: reg, logger: logger, tmpDir: tmpDir, maxSize: maxArtifactBytes}
}

// Routes returns the API's patterns and handlers, for service.Runtime.Handle.
func (a *API) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /v1/models":                                     http.HandlerFunc(a.models),
		"GET /v1/models/{model}":                             http.HandlerFunc(a.model),
		"GET /v1/models/{model}/versions":                    http.HandlerFunc(a.versions),
		"POST /v1/models/{model}/versions":                   http.HandlerFunc(a.register),
		"GET /v1/models/{model}/versions/{version}":          http.HandlerFunc(a.version),
		"GET /v1/models/{model}/versions/{version}/artifact": http.HandlerFunc(a.artifact),
		"POST /v1/models/{model}/versions/{version}/archive": http.HandlerFunc(a.archive),
		"GET /v1/models/{model}/aliases":                     http.HandlerFunc(a.aliases),
		"PUT /v1/models/{model}/aliases/{alias}":             http.HandlerFunc(a.moveAlias),
		"DELETE /v1/models/{model}/aliases/{alias}":          http.HandlerFunc(a.deleteAlias),
		"POST /v1/models/{model}/rollback":                   http.HandlerFunc(a.rollback),
		"GET /v1/models/{model}/audit":                       http.HandlerFunc(a.audit),
	}
}

// RetryAfter is the Retry-After (seconds) of a 503 unavailable answer.
const RetryAfter = "1"

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *model.Error
	if !errors.As(err, &e) {
		a.logger.Error("http request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &model.Error{Code: model.CodeInternal, Message: err.Error()}
	}
	status := model.HTTPStatus(e.Code)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", RetryAfter)
	}
	httperror.Write(w, status, e.Code, e.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (a *API) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// reject counts a request of operation op refused here, then answers it.
func (a *API) reject(w http.ResponseWriter, r *http.Request, op string, err error) {
	a.fail(w, r, a.reg.Reject(op, err))
}

// requireJSON refuses a body that is not declared application/json.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return model.Errorf(model.CodeUnsupportedMedia, "Content-Type %q: want application/json", ct)
	}
	return nil
}

// decodeBody decodes a JSON request body strictly (requireJSON, then
// decodeStrict).
func decodeBody(r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	return decodeStrict(r.Body, "request body", v)
}

// decodeStrict decodes one JSON value from r into v: unknown fields and
// trailing data are refused (invalid_request), and so is a body over
// maxJSONBody (too_large).
func decodeStrict(r io.Reader, what string, v any) error {
	lr := &limitedReader{r: r, n: maxJSONBody, what: what}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		var extra json.RawMessage
		if derr := dec.Decode(&extra); !errors.Is(derr, io.EOF) {
			err = errors.New("trailing data after the JSON value")
		}
	}
	if lr.exceeded {
		return lr.tooLarge()
	}
	if err != nil {
		return model.Errorf(model.CodeInvalidRequest, "%s: %v", what, err)
	}
	return nil
}

func (a *API) models(w http.ResponseWriter, r *http.Request) {
	out, err := a.reg.Models(r.Context())
	a.reply(w, r, out, err)
}

func (a *API) model(w http.ResponseWriter, r *http.Request) {
	out, err := a.reg.Model(r.Context(), r.PathValue("model"))
	a.reply(w, r, out, err)
}

func (a *API) versions(w http.ResponseWriter, r *http.Request) {
	out, err := a.reg.Versions(r.Context(), r.PathValue("model"))
	a.reply(w, r, out, err)
}

func (a *API) version(w http.ResponseWriter, r *http.Request) {
	out, err := a.reg.Version(r.Context(), r.PathValue("model"), model.VersionRef(r.PathValue("version")))
	a.reply(w, r, out, err)
}

func (a *API) aliases(w http.ResponseWriter, r *http.Request) {
	out, err := a.reg.Model(r.Context(), r.PathValue("model"))
	a.reply(w, r, out.Aliases, err)
}

func (a *API) audit(w http.ResponseWriter, r *http.Request) {
	out, err := a.reg.Audit(r.Context(), r.PathValue("model"))
	a.reply(w, r, out, err)
}

// register registers a version. With a multipart/form-data body, the part
// "metadata" (a model.RegisterRequest in JSON, artifact omitted) comes
// first and the part "artifact" (the file) second; the artifact is spooled
// to disk, never held in memory. With a JSON body, the request names an
// artifact already in the object store.
func (a *API) register(w http.ResponseWriter, r *http.Request) {
	const op = "register"
	name := r.PathValue("model")
	if err := model.ValidateName("model", name); err != nil {
		a.reject(w, r, op, err)
		return
	}
	ct := r.Header.Get("Content-Type")
	mediaType, _, err := mime.ParseMediaType(ct)
	switch {
	case err == nil && mediaType == "application/json":
		var req model.RegisterRequest
		if err := decodeStrict(r.Body, "request body", &req); err != nil {
			a.reject(w, r, op, err)
			return
		}
		if err := matchModel(name, &req); err != nil {
			a.reject(w, r, op, err)
			return
		}
		v, err := a.reg.Register(r.Context(), req)
		a.created(w, r, v, err)
		return
	case err != nil || mediaType != "multipart/form-data":
		a.reject(w, r, op, model.Errorf(model.CodeUnsupportedMedia, "Content-Type %q: want multipart/form-data (metadata and artifact) or application/json", ct))
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(transferTimeout))
	mr, err := r.MultipartReader()
	if err != nil {
		a.reject(w, r, op, model.Errorf(model.CodeInvalidRequest, "multipart body: %v", err))
		return
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "metadata" {
		a.reject(w, r, op, model.Errorf(model.CodeInvalidRequest, "multipart body: the first part must be \"metadata\""))
		return
	}
	var req model.RegisterRequest
	if err := decodeStrict(part, "metadata part", &req); err != nil {
		a.reject(w, r, op, err)
		return
	}
	if err := matchModel(name, &req); err != nil {
		a.reject(w, r, op, err)
		return
	}
	// Validate everything but the artifact before reading it.
	probe := req
	probe.Artifact = model.Artifact{SHA256: fmt.Sprintf("%064d", 0), Size: 1}
	if req.Artifact.SHA256 != "" {
		probe.Artifact.SHA256 = req.Artifact.SHA256
	}
	if req.Artifact.Size != 0 {
		probe.Artifact.Size = req.Artifact.Size
	}
	if err := probe.Validate(); err != nil {
		a.reject(w, r, op, err)
		return
	}
	if req.Artifact.Size > a.maxSize {
		a.reject(w, r, op, model.Errorf(model.CodeTooLarge, "artifact.size %d: larger than %d bytes (registry.max-artifact-bytes)", req.Artifact.Size, a.maxSize))
		return
	}
	part, err = mr.NextPart()
	if err != nil || part.FormName() != "artifact" {
		a.reject(w, r, op, model.Errorf(model.CodeInvalidRequest, "multipart body: the second part must be \"artifact\""))
		return
	}
	body := &limitedReader{r: part, n: a.maxSize, what: "artifact", limitName: "registry.max-artifact-bytes"}
	v, err := a.reg.RegisterUpload(r.Context(), req, body, a.tmpDir)
	a.created(w, r, v, err)
}

func (a *API) created(w http.ResponseWriter, r *http.Request, v model.Version, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/v1/models/%s/versions/%d", v.Model, v.Version))
	writeJSON(w, http.StatusCreated, v)
}

func matchModel(name string, req *model.RegisterRequest) error {
	if req.Model == "" {
		req.Model = name
	}
	if req.Model != name {
		return model.Errorf(model.CodeInvalidRequest, "body names model %q, the path %q", req.Model, name)
	}
	return nil
}

// limitedReader fails with ErrTooLarge once more than n bytes are read.
type limitedReader struct {
	r         io.Reader
	n         int64
	what      string
	limitName string // the flag that sets the limit, if any
	read      int64
	exceeded  bool
}

func (l *limitedReader) tooLarge() error {
	if l.limitName != "" {
		return model.Errorf(model.CodeTooLarge, "%s: larger than %d bytes (%s)", l.what, l.n, l.limitName)
	}
	return model.Errorf(model.CodeTooLarge, "%s: larger than %d bytes", l.what, l.n)
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, l.tooLarge()
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.n {
		l.exceeded = true
		return n, l.tooLarge()
	}
	return n, err
}

// artifact streams a version's artifact. It verifies the artifact in full
// before it sends the first byte, so that a corrupted artifact is refused
// with 422 artifact_corrupt; while streaming it hashes again, and aborts the
// response (the client sees a broken transfer, not a complete body) if the
// stored object changed in between.
func (a *API) artifact(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := a.reg.Version(ctx, r.PathValue("model"), model.VersionRef(r.PathValue("version")))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.reg.VerifyArtifact(ctx, v); err != nil {
		a.fail(w, r, err)
		return
	}
	_, rc, err := a.reg.OpenArtifact(ctx, v.Model, model.VersionRef(strconv.Itoa(v.Version)))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	defer rc.Close()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(transferTimeout))
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(v.Artifact.Size, 10))
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("%s-v%d.%s", v.Model, v.Version, v.Format)))
	h.Set("ETag", `"sha256:`+v.Artifact.SHA256+`"`)
	h.Set("X-Tributary-Artifact-SHA256", v.Artifact.SHA256)
	h.Set("X-Tributary-Model-Version", strconv.Itoa(v.Version))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		if ctx.Err() == nil {
			a.logger.Error("artifact download aborted", "model", v.Model, "version", v.Version, "err", err)
		}
		// The status line is sent: aborting the response is the only way
		// to tell the client the body is not the artifact.
		panic(http.ErrAbortHandler)
	}
}

// actorBody is the body of archive and rollback.
type actorBody struct {
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
}

func (a *API) archive(w http.ResponseWriter, r *http.Request) {
	n, ok := model.VersionRef(r.PathValue("version")).Number()
	if !ok {
		a.reject(w, r, "archive", model.Errorf(model.CodeInvalidRequest, "version %q: want a version number", r.PathValue("version")))
		return
	}
	var b actorBody
	if err := decodeBody(r, &b); err != nil {
		a.reject(w, r, "archive", err)
		return
	}
	v, err := a.reg.Archive(r.Context(), model.ArchiveRequest{Model: r.PathValue("model"), Version: n, Actor: b.Actor, Reason: b.Reason})
	a.reply(w, r, v, err)
}

// moveBody is the body of an alias move.
type moveBody struct {
	Version          int      `json:"version"`
	Weight           *float64 `json:"weight,omitempty"`
	Actor            string   `json:"actor"`
	Reason           string   `json:"reason,omitempty"`
	ExpectedRevision *uint64  `json:"expected_revision,omitempty"`
}

func (a *API) moveAlias(w http.ResponseWriter, r *http.Request) {
	var b moveBody
	if err := decodeBody(r, &b); err != nil {
		a.reject(w, r, "move_alias", err)
		return
	}
	e, err := a.reg.MoveAlias(r.Context(), model.MoveAliasRequest{
		Model: r.PathValue("model"), Alias: r.PathValue("alias"), Version: b.Version, Weight: b.Weight,
		Actor: b.Actor, Reason: b.Reason, ExpectedRevision: b.ExpectedRevision,
	})
	a.reply(w, r, e, err)
}

func (a *API) rollback(w http.ResponseWriter, r *http.Request) {
	var b actorBody
	if err := decodeBody(r, &b); err != nil {
		a.reject(w, r, "rollback", err)
		return
	}
	e, err := a.reg.Rollback(r.Context(), model.RollbackRequest{Model: r.PathValue("model"), Actor: b.Actor, Reason: b.Reason})
	a.reply(w, r, e, err)
}

// deleteBody is the body of an alias deletion.
type deleteBody struct {
	Actor            string  `json:"actor"`
	Reason           string  `json:"reason,omitempty"`
	ExpectedRevision *uint64 `json:"expected_revision,omitempty"`
}

func (a *API) deleteAlias(w http.ResponseWriter, r *http.Request) {
	var b deleteBody
	if err := decodeBody(r, &b); err != nil {
		a.reject(w, r, "delete_alias", err)
		return
	}
	e, err := a.reg.DeleteAlias(r.Context(), model.DeleteAliasRequest{
		Model: r.PathValue("model"), Alias: r.PathValue("alias"),
		Actor: b.Actor, Reason: b.Reason, ExpectedRevision: b.ExpectedRevision,
	})
	a.reply(w, r, e, err)
}
