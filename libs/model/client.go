package model

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/natsx"
)

// The registry's NATS request-reply API. A request is a CloudEvent (binary
// mode) of type RequestType(verb) on Subject(verb) whose data is the JSON
// request below; the reply is a CloudEvent of type ReplyType whose data is a
// Reply. The registry's replicas subscribe in the queue group QueueGroup, so
// each request is answered once.
//
//	verb          request             result
//	register      RegisterRequest     Version
//	models        ModelsRequest       []ModelInfo
//	model         ModelRequest        ModelInfo
//	versions      ModelRequest        []Version
//	version       VersionRequest      Version (Version may be an alias)
//	alias         MoveAliasRequest    AuditEntry
//	delete_alias  DeleteAliasRequest  AuditEntry (Deleted set)
//	rollback      RollbackRequest     AuditEntry
//	archive       ArchiveRequest      Version
//	audit         ModelRequest        []AuditEntry
//
// The registry decodes request data strictly (UnmarshalStrict): a field it
// does not know is ErrInvalidRequest.
//
// NATS messages are limited (1 MB by default), so artifacts never travel in
// a request: the caller stores the artifact in the object store first
// (Client.PutArtifact) and registers its address.
const (
	VerbRegister = "register"
	VerbModels   = "models"
	VerbModel    = "model"
	VerbVersions = "versions"
	VerbVersion  = "version"
	VerbAlias    = "alias"
	// VerbDeleteAlias removes an alias.
	VerbDeleteAlias = "delete_alias"
	VerbRollback    = "rollback"
	VerbArchive     = "archive"
	VerbAudit       = "audit"

	// SubjectPrefix is the domain of the registry's request subjects,
	// outside the JetStream stream.
	SubjectPrefix = "tributary.registry."
	// QueueGroup is the registry replicas' queue group.
	QueueGroup = "tributary-registry"
	// ReplyType is the CloudEvents type of a reply.
	ReplyType = "tributary.registry.reply.v1"
)

// Verbs lists the verbs of the request-reply API.
func Verbs() []string {
	return []string{VerbRegister, VerbModels, VerbModel, VerbVersions, VerbVersion, VerbAlias, VerbDeleteAlias, VerbRollback, VerbArchive, VerbAudit}
}

// Subject is the request subject of verb; prefix is the test prefix of
// natsx.BootstrapConfig (empty in production).
func Subject(prefix, verb string) string { return prefix + SubjectPrefix + verb }

// RequestType is the CloudEvents type of a request.
func RequestType(verb string) string { return "tributary.registry." + verb + ".v1" }

// ModelsRequest lists every model.
type ModelsRequest struct{}

// ModelRequest names a model.
type ModelRequest struct {
	Model string `json:"model"`
}

// VersionRequest names a version of a model by number or alias.
type VersionRequest struct {
	Model   string     `json:"model"`
	Version VersionRef `json:"version"`
}

// Reply is the data of a reply: the result, or the error.
type Reply struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// Client talks to the registry over NATS and reads and writes artifacts in
// the object store directly. It is safe for concurrent use.
type Client struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	prefix  string
	timeout time.Duration
	source  string

	mu  sync.Mutex
	obs jetstream.ObjectStore
}

// ClientOpt configures a Client.
type ClientOpt func(*Client)

// WithPrefix sets the resource prefix (natsx.BootstrapConfig.Prefix) of the
// subjects and the object store, for tests.
func WithPrefix(prefix string) ClientOpt { return func(c *Client) { c.prefix = prefix } }

// WithTimeout bounds each request (default 10s) when the context has no
// earlier deadline.
func WithTimeout(d time.Duration) ClientOpt { return func(c *Client) { c.timeout = d } }

// WithSource sets the CloudEvents source of the requests (default
// /tributary/client).
func WithSource(source string) ClientOpt { return func(c *Client) { c.source = source } }

// NewClient returns a client over a NATS connection and its JetStream
// context.
func NewClient(nc *nats.Conn, js jetstream.JetStream, opts ...ClientOpt) *Client {
	c := &Client{nc: nc, js: js, timeout: 10 * time.Second, source: "/tributary/client"}
	for _, o := range opts {
		o(c)
	}
	return c
}

func (c *Client) objectStore(ctx context.Context) (jetstream.ObjectStore, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.obs != nil {
		return c.obs, nil
	}
	name := c.prefix + natsx.ObjectStoreArtifacts
	obs, err := c.js.ObjectStore(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", name, err)
	}
	c.obs = obs
	return obs, nil
}

// PutArtifact stores an artifact in the object store (see the package
// function PutArtifact) and returns its address for RegisterRequest.
func (c *Client) PutArtifact(ctx context.Context, r io.ReadSeeker) (Artifact, error) {
	return PutArtifact(ctx, c.js, c.prefix+natsx.ObjectStoreArtifacts, r)
}

// OpenArtifact opens a version's artifact, verified as it is read (see the
// package function OpenArtifact).
func (c *Client) OpenArtifact(ctx context.Context, a Artifact) (io.ReadCloser, error) {
	obs, err := c.objectStore(ctx)
	if err != nil {
		return nil, err
	}
	rc, _, err := OpenArtifact(ctx, obs, a.SHA256)
	return rc, err
}

// Register registers a new version; its artifact must be stored already.
func (c *Client) Register(ctx context.Context, req RegisterRequest) (Version, error) {
	var v Version
	return v, c.call(ctx, VerbRegister, req, &v)
}

// Models lists the models with their aliases.
func (c *Client) Models(ctx context.Context) ([]ModelInfo, error) {
	var out []ModelInfo
	return out, c.call(ctx, VerbModels, ModelsRequest{}, &out)
}

// Model returns a model with its aliases.
func (c *Client) Model(ctx context.Context, name string) (ModelInfo, error) {
	var out ModelInfo
	return out, c.call(ctx, VerbModel, ModelRequest{Model: name}, &out)
}

// Versions lists a model's versions, oldest first.
func (c *Client) Versions(ctx context.Context, name string) ([]Version, error) {
	var out []Version
	return out, c.call(ctx, VerbVersions, ModelRequest{Model: name}, &out)
}

// Version returns a version by number ("3") or alias ("production").
func (c *Client) Version(ctx context.Context, name string, ref VersionRef) (Version, error) {
	var out Version
	return out, c.call(ctx, VerbVersion, VersionRequest{Model: name, Version: ref}, &out)
}

// MoveAlias points an alias at a version.
func (c *Client) MoveAlias(ctx context.Context, req MoveAliasRequest) (AuditEntry, error) {
	var out AuditEntry
	return out, c.call(ctx, VerbAlias, req, &out)
}

// DeleteAlias removes an alias; the audit entry it returns has Deleted set.
func (c *Client) DeleteAlias(ctx context.Context, req DeleteAliasRequest) (AuditEntry, error) {
	var out AuditEntry
	return out, c.call(ctx, VerbDeleteAlias, req, &out)
}

// Rollback moves production back to its previous version.
func (c *Client) Rollback(ctx context.Context, req RollbackRequest) (AuditEntry, error) {
	var out AuditEntry
	return out, c.call(ctx, VerbRollback, req, &out)
}

// Archive archives a version.
func (c *Client) Archive(ctx context.Context, req ArchiveRequest) (Version, error) {
	var out Version
	return out, c.call(ctx, VerbArchive, req, &out)
}

// Audit returns a model's alias moves, oldest first.
func (c *Client) Audit(ctx context.Context, name string) ([]AuditEntry, error) {
	var out []AuditEntry
	return out, c.call(ctx, VerbAudit, ModelRequest{Model: name}, &out)
}

func (c *Client) call(ctx context.Context, verb string, req, result any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	e := ce.New()
	e.SetID(newID())
	e.SetSource(c.source)
	e.SetType(RequestType(verb))
	e.SetTime(time.Now())
	if err := e.SetData(ce.ApplicationJSON, req); err != nil {
		return fmt.Errorf("encode %s request: %w", verb, err)
	}
	msg, err := event.ToNATSMsg(e, Subject(c.prefix, verb))
	if err != nil {
		return fmt.Errorf("encode %s request: %w", verb, err)
	}
	resp, err := c.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("registry %s: no registry is listening on %s: %w", verb, msg.Subject, err)
		}
		return fmt.Errorf("registry %s: %w", verb, err)
	}
	reply, err := event.FromNATSMsg(resp)
	if err != nil {
		return fmt.Errorf("registry %s: decode reply: %w", verb, err)
	}
	var r Reply
	if err := json.Unmarshal(reply.Data(), &r); err != nil {
		return fmt.Errorf("registry %s: decode reply data: %w", verb, err)
	}
	if r.Error != nil {
		return r.Error
	}
	if err := json.Unmarshal(r.Result, result); err != nil {
		return fmt.Errorf("registry %s: decode result: %w", verb, err)
	}
	return nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
