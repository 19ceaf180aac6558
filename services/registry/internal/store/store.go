package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
)

// maxCASAttempts bounds the retries of the version counter's
// compare-and-set under contention.
const maxCASAttempts = 200

// Store is the registry's state.
type Store struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	models   jetstream.KeyValue
	features jetstream.KeyValue
	obs      jetstream.ObjectStore
	// artifacts is the object store's bucket name.
	artifacts string
	now       func() time.Time
}

// valueHeadroom is what a KV value of a version must leave of the
// server's maximum payload: room for the archival record written later,
// and for the message's headers.
const valueHeadroom = 8 << 10

// Open opens the bucket tributary_models, tributary_features and the object
// store tributary_artifacts (each name prefixed with prefix, for tests);
// they must exist (natsx.Bootstrap creates them).
func Open(ctx context.Context, js jetstream.JetStream, prefix string) (*Store, error) {
	models, err := js.KeyValue(ctx, prefix+natsx.BucketModels)
	if err != nil {
		return nil, fmt.Errorf("open kv %s: %w", prefix+natsx.BucketModels, err)
	}
	features, err := js.KeyValue(ctx, prefix+natsx.BucketFeatures)
	if err != nil {
		return nil, fmt.Errorf("open kv %s: %w", prefix+natsx.BucketFeatures, err)
	}
	obs, err := js.ObjectStore(ctx, prefix+natsx.ObjectStoreArtifacts)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", prefix+natsx.ObjectStoreArtifacts, err)
	}
	return &Store{
		nc: js.Conn(), js: js, models: models, features: features, obs: obs,
		artifacts: prefix + natsx.ObjectStoreArtifacts,
		now:       func() time.Time { return time.Now().UTC() },
	}, nil
}

// ObjectStore is the artifact store, for reads (model.OpenArtifact).
func (s *Store) ObjectStore() jetstream.ObjectStore { return s.obs }

// PutArtifact stores an artifact (model.PutArtifact).
func (s *Store) PutArtifact(ctx context.Context, r io.ReadSeeker) (model.Artifact, error) {
	return model.PutArtifact(ctx, s.js, s.artifacts, r)
}

// SweepArtifacts removes the chunks of uploads that died before they
// stored their object, once older than olderThan
// (model.SweepArtifactChunks).
func (s *Store) SweepArtifacts(ctx context.Context, olderThan time.Duration) (int, error) {
	return model.SweepArtifactChunks(ctx, s.js, s.artifacts, olderThan)
}

// Available returns ErrUnavailable while the connection to NATS is down,
// so that callers answer at once instead of waiting for a timeout.
func (s *Store) Available() error {
	if st := s.nc.Status(); st != nats.CONNECTED {
		return model.Errorf(model.CodeUnavailable, "the registry is not connected to NATS (%s): retry later", st)
	}
	return nil
}

// Unavailable turns an error of a NATS call that failed because NATS is
// unreachable (a timeout, a closed connection, no JetStream responder)
// into ErrUnavailable; other errors are returned as they are.
func (s *Store) Unavailable(err error) error {
	if err == nil || model.CodeOf(err) != model.CodeInternal {
		return err
	}
	if s.nc.Status() != nats.CONNECTED || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, context.DeadlineExceeded) {
		return model.Errorf(model.CodeUnavailable, "NATS did not answer: %v", err)
	}
	return err
}

// isConflict reports a lost compare-and-set of Create or Update.
func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

func getJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string) (T, uint64, error) {
	var v T
	e, err := kv.Get(ctx, key)
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, e.Revision(), nil
}

// Upload stores a registration's artifact and returns its address.
type Upload func(context.Context) (model.Artifact, error)

// Register stores a new version of req.Model (creating the model on its
// first version) and returns it. With upload nil the artifact must be in
// the object store already; otherwise upload stores it, after the request
// id is claimed (so that a retry overlapping its first attempt uploads
// nothing), and req.Artifact, where set, must match what it stored. An
// artifact already in the object store is read in full to verify its
// sha256 and size (by upload too, when it finds it stored). The version
// number is the model's counter plus one, taken by compare-and-set, so
// concurrent registrations, on any number of replicas, get distinct
// consecutive numbers. A crash between taking the number and writing the
// version skips that number for good (it is never reused).
func (s *Store) Register(ctx context.Context, req model.RegisterRequest, upload Upload) (v model.Version, err error) {
	probe := req
	if upload != nil {
		// The artifact is known after the upload: check the rest now.
		if probe.Artifact.SHA256 == "" {
			probe.Artifact.SHA256 = strings.Repeat("0", 64)
		}
		if probe.Artifact.Size == 0 {
			probe.Artifact.Size = 1
		}
	}
	if err := probe.Validate(); err != nil {
		return model.Version{}, err
	}
	if err := s.checkVersionSize(req); err != nil {
		return model.Version{}, err
	}
	var prior *model.Version
	if req.RequestID != "" {
		var claimRev uint64
		prior, claimRev, err = s.claim(ctx, req)
		if err != nil {
			return model.Version{}, err
		}
		if prior == nil {
			// err is the named result: settle sees how the registration ended.
			defer func() { s.settle(req, claimRev, v.Version, err) }()
		}
	}
	if upload != nil {
		a, err := upload(ctx)
		if err != nil {
			return model.Version{}, err
		}
		if req.Artifact.SHA256 != "" && req.Artifact.SHA256 != a.SHA256 {
			return model.Version{}, model.Errorf(model.CodeInvalidRequest, "artifact has sha256 %s, the request's artifact.sha256 says %s", a.SHA256, req.Artifact.SHA256)
		}
		if req.Artifact.Size != 0 && req.Artifact.Size != a.Size {
			return model.Version{}, model.Errorf(model.CodeInvalidRequest, "artifact has %d bytes, the request's artifact.size says %d", a.Size, req.Artifact.Size)
		}
		req.Artifact = a
	}
	if prior != nil {
		if prior.Artifact != req.Artifact {
			return model.Version{}, model.Errorf(model.CodeConflict, "request id %s registered version %d with another artifact", req.RequestID, prior.Version)
		}
		return *prior, nil
	}
	if upload == nil {
		// (An upload has just stored the artifact, or read the stored
		// copy in full and found it intact.)
		if _, err := model.VerifyArtifact(ctx, s.obs, req.Artifact.SHA256, req.Artifact.Size); err != nil {
			return model.Version{}, err
		}
	}
	n, err := s.nextVersion(ctx, req.Model)
	if err != nil {
		return model.Version{}, err
	}
	v = s.newVersion(req, n)
	b, err := json.Marshal(v)
	if err != nil {
		return model.Version{}, fmt.Errorf("encode version: %w", err)
	}
	key := model.VersionKey(req.Model, n)
	if _, err := s.models.Create(ctx, key, b); err != nil {
		return model.Version{}, fmt.Errorf("write %s: %w", key, err)
	}
	return v, nil
}

func (s *Store) newVersion(req model.RegisterRequest, n int) model.Version {
	return model.Version{
		Model:        req.Model,
		Version:      n,
		Format:       req.Format,
		Artifact:     req.Artifact,
		Lineage:      req.Lineage,
		Status:       model.StatusActive,
		RegisteredAt: s.now(),
		RegisteredBy: req.Actor,
		RequestID:    req.RequestID,
	}
}

// MaxMetadataBytes is the largest registration metadata (a version record
// in JSON) the registry stores: the KV value of a version is one NATS
// message, so it must fit the server's maximum payload (1 MB by default)
// with some headroom.
func (s *Store) MaxMetadataBytes() int {
	return max(int(s.nc.MaxPayload())-valueHeadroom, 0)
}

// checkVersionSize refuses, with ErrTooLarge, a registration whose version
// record would not fit in a KV value, before it takes a version number.
func (s *Store) checkVersionSize(req model.RegisterRequest) error {
	if req.Artifact.SHA256 == "" {
		req.Artifact.SHA256 = strings.Repeat("0", 64)
	}
	b, err := json.Marshal(s.newVersion(req, math.MaxInt32))
	if err != nil {
		return fmt.Errorf("encode version: %w", err)
	}
	if limit := s.MaxMetadataBytes(); len(b) > limit {
		return model.Errorf(model.CodeTooLarge, "registration metadata of model %s: %d bytes as a version record, the registry stores at most %d (NATS max_payload less %d): make the reference distributions or params smaller",
			req.Model, len(b), limit, valueHeadroom)
	}
	return nil
}

// claimTimeout is how long a claimed request id blocks a retry before the
// claim is taken to be a crashed registration's and taken over.
const claimTimeout = 5 * time.Minute

// registration is the value of model.RequestKey: claimed while the
// registration runs, then the version it produced.
type registration struct {
	ClaimedAt time.Time `json:"claimed_at"`
	Version   int       `json:"version,omitempty"`
}

// claim makes req's request id this registration's, by compare-and-set. It
// returns the version when a registration with the id already succeeded
// (the caller compares its artifact), ErrConflict while another one runs,
// and otherwise the claim's revision.
func (s *Store) claim(ctx context.Context, req model.RegisterRequest) (*model.Version, uint64, error) {
	key := model.RequestKey(req.Model, req.RequestID)
	b, err := json.Marshal(registration{ClaimedAt: s.now()})
	if err != nil {
		return nil, 0, fmt.Errorf("encode claim: %w", err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		rec, rev, err := getJSON[registration](ctx, s.models, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			rev, err = s.models.Create(ctx, key, b)
		case err != nil:
			return nil, 0, fmt.Errorf("read %s: %w", key, err)
		case rec.Version > 0:
			v, err := s.Version(ctx, req.Model, model.VersionRef(strconv.Itoa(rec.Version)))
			if err != nil {
				return nil, 0, err
			}
			return &v, 0, nil
		case s.now().Sub(rec.ClaimedAt) < claimTimeout:
			return nil, 0, model.Errorf(model.CodeConflict, "a registration with request id %s of model %s is in progress: retry later", req.RequestID, req.Model)
		default: // a crashed registration's claim
			rev, err = s.models.Update(ctx, key, b, rev)
		}
		if err == nil {
			return nil, rev, nil
		}
		if !isConflict(err) {
			return nil, 0, fmt.Errorf("write %s: %w", key, err)
		}
	}
	return nil, 0, model.Errorf(model.CodeConflict, "request id %s of model %s: claim contended", req.RequestID, req.Model)
}

// settle records the version a claimed registration produced, or releases
// the claim when it failed, so that a retry can run. It runs even when the
// request's context ended.
func (s *Store) settle(req model.RegisterRequest, claimRev uint64, version int, regErr error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := model.RequestKey(req.Model, req.RequestID)
	if regErr != nil {
		// On failure the claim expires after claimTimeout instead.
		_ = s.models.Delete(ctx, key, jetstream.LastRevision(claimRev))
		return
	}
	b, err := json.Marshal(registration{ClaimedAt: s.now(), Version: version})
	if err == nil {
		// On failure the claim expires and a retry registers again: at
		// worst a second version, never a lost one.
		_, _ = s.models.Update(ctx, key, b, claimRev)
	}
}

// nextVersion takes the next version number of a model.
func (s *Store) nextVersion(ctx context.Context, name string) (int, error) {
	key := model.ModelKey(name)
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		m, rev, err := getJSON[model.Model](ctx, s.models, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			m = model.Model{Name: name, CreatedAt: s.now()}
		case err != nil:
			return 0, fmt.Errorf("read %s: %w", key, err)
		}
		m.LatestVersion++
		b, err := json.Marshal(m)
		if err != nil {
			return 0, fmt.Errorf("encode model: %w", err)
		}
		if rev == 0 {
			_, err = s.models.Create(ctx, key, b)
		} else {
			_, err = s.models.Update(ctx, key, b, rev)
		}
		if err == nil {
			return m.LatestVersion, nil
		}
		if !isConflict(err) {
			return 0, fmt.Errorf("write %s: %w", key, err)
		}
		// Lost the race: back off a little, with jitter, and read again.
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Duration(rand.IntN(1+min(attempt, 20))) * time.Millisecond):
		}
	}
	return 0, model.Errorf(model.CodeConflict, "model %s: version counter contended for %d attempts", name, maxCASAttempts)
}

// Model returns a model's record, or ErrModelNotFound.
func (s *Store) Model(ctx context.Context, name string) (model.ModelInfo, error) {
	if err := model.ValidateName("model", name); err != nil {
		return model.ModelInfo{}, err
	}
	m, _, err := getJSON[model.Model](ctx, s.models, model.ModelKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return model.ModelInfo{}, model.Errorf(model.CodeModelNotFound, "model %q not found", name)
	}
	if err != nil {
		return model.ModelInfo{}, fmt.Errorf("read model %s: %w", name, err)
	}
	aliases, err := s.Aliases(ctx, name)
	if err != nil {
		return model.ModelInfo{}, err
	}
	return model.ModelInfo{Model: m, Aliases: aliases}, nil
}

// keys lists the keys matching a filter, sorted.
func (s *Store) keys(ctx context.Context, kv jetstream.KeyValue, filter string) ([]string, error) {
	l, err := kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list keys %s: %w", filter, err)
	}
	var keys []string
	// The lister stops its watcher itself once it has sent every key
	// (or ctx ended), then closes the channel.
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list keys %s: %w", filter, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// Models lists every model with its aliases, by name.
func (s *Store) Models(ctx context.Context) ([]model.ModelInfo, error) {
	keys, err := s.keys(ctx, s.models, model.ModelKeyFilter)
	if err != nil {
		return nil, err
	}
	out := make([]model.ModelInfo, 0, len(keys))
	for _, k := range keys {
		m, err := s.Model(ctx, strings.TrimPrefix(k, "model."))
		if errors.Is(err, model.ErrModelNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Versions lists a model's versions by number.
func (s *Store) Versions(ctx context.Context, name string) ([]model.Version, error) {
	m, err := s.Model(ctx, name)
	if err != nil {
		return nil, err
	}
	keys, err := s.keys(ctx, s.models, model.VersionKeyFilter(m.Name))
	if err != nil {
		return nil, err
	}
	out := make([]model.Version, 0, len(keys))
	for _, k := range keys {
		v, _, err := getJSON[model.Version](ctx, s.models, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Version returns a version by number or alias.
func (s *Store) Version(ctx context.Context, name string, ref model.VersionRef) (model.Version, error) {
	v, _, err := s.version(ctx, name, ref)
	return v, err
}

func (s *Store) version(ctx context.Context, name string, ref model.VersionRef) (model.Version, uint64, error) {
	if err := model.ValidateName("model", name); err != nil {
		return model.Version{}, 0, err
	}
	n, ok := ref.Number()
	if !ok {
		if err := model.ValidateName("alias", string(ref)); err != nil {
			return model.Version{}, 0, model.Errorf(model.CodeInvalidRequest, "version %q: neither a version number nor an alias", ref)
		}
		a, err := s.Alias(ctx, name, string(ref))
		if err != nil {
			return model.Version{}, 0, err
		}
		n = a.Version
	}
	v, rev, err := getJSON[model.Version](ctx, s.models, model.VersionKey(name, n))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if _, merr := s.Model(ctx, name); merr != nil {
			return model.Version{}, 0, merr
		}
		return model.Version{}, 0, model.Errorf(model.CodeVersionNotFound, "model %q has no version %d", name, n)
	}
	if err != nil {
		return model.Version{}, 0, fmt.Errorf("read version %s/%d: %w", name, n, err)
	}
	return v, rev, nil
}

// Alias returns an alias, or ErrAliasNotFound (ErrModelNotFound when the
// model does not exist).
func (s *Store) Alias(ctx context.Context, name, alias string) (model.Alias, error) {
	a, rev, err := getJSON[model.Alias](ctx, s.models, model.AliasKey(name, alias))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if _, _, merr := getJSON[model.Model](ctx, s.models, model.ModelKey(name)); errors.Is(merr, jetstream.ErrKeyNotFound) {
			return model.Alias{}, model.Errorf(model.CodeModelNotFound, "model %q not found", name)
		}
		return model.Alias{}, model.Errorf(model.CodeAliasNotFound, "model %q has no alias %q", name, alias)
	}
	if err != nil {
		return model.Alias{}, fmt.Errorf("read alias %s/%s: %w", name, alias, err)
	}
	a.Revision = rev
	return a, nil
}

// Aliases lists a model's aliases by name.
func (s *Store) Aliases(ctx context.Context, name string) ([]model.Alias, error) {
	keys, err := s.keys(ctx, s.models, model.AliasKeyFilter(name))
	if err != nil {
		return nil, err
	}
	out := make([]model.Alias, 0, len(keys))
	for _, k := range keys {
		a, rev, err := getJSON[model.Alias](ctx, s.models, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
		a.Revision = rev
		out = append(out, a)
	}
	return out, nil
}

// Audit lists a model's alias moves in time order.
func (s *Store) Audit(ctx context.Context, name string) ([]model.AuditEntry, error) {
	if _, err := s.Model(ctx, name); err != nil {
		return nil, err
	}
	keys, err := s.keys(ctx, s.models, model.AuditKeyFilter(name))
	if err != nil {
		return nil, err
	}
	out := make([]model.AuditEntry, 0, len(keys))
	for _, k := range keys {
		e, _, err := getJSON[model.AuditEntry](ctx, s.models, k)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Revision < out[j].Revision
	})
	return out, nil
}

// MoveAlias points an alias at a version, by compare-and-set on the alias
// key's revision: of two overlapping moves one wins and the other gets
// ErrConflict. The version must exist, not be archived, and its feature
// definitions must be the applied ones.
func (s *Store) MoveAlias(ctx context.Context, req model.MoveAliasRequest) (model.AuditEntry, error) {
	if err := req.Validate(); err != nil {
		return model.AuditEntry{}, err
	}
	cur, err := s.Alias(ctx, req.Model, req.Alias)
	exists := err == nil
	if err != nil && !errors.Is(err, model.ErrAliasNotFound) {
		return model.AuditEntry{}, err
	}
	if err := expectRevision(req.Model, req.Alias, "move", cur, exists, req.ExpectedRevision); err != nil {
		return model.AuditEntry{}, err
	}
	return s.writeAlias(ctx, cur, exists, req.Model, req.Alias, req.Version, req.Weight, req.Actor, req.Reason, false, nil)
}

// expectRevision checks a conditional change (move or delete) of an alias
// against its current state.
func expectRevision(name, alias, change string, cur model.Alias, exists bool, expected *uint64) error {
	switch {
	case expected == nil || *expected == cur.Revision && exists == (*expected != 0):
		return nil
	case !exists:
		return model.Errorf(model.CodeConflict, "alias %s of model %s does not exist, the %s expected it at revision %d", alias, name, change, *expected)
	case *expected == 0:
		return model.Errorf(model.CodeConflict, "alias %s of model %s exists (revision %d), the %s expected it not to", alias, name, cur.Revision, change)
	}
	return model.Errorf(model.CodeConflict, "alias %s of model %s is at revision %d, the %s expected %d: it was changed meanwhile", alias, name, cur.Revision, change, *expected)
}

// DeleteAlias removes an alias, by compare-and-set on its revision like
// MoveAlias, and records the deletion in the audit trail (an entry with
// deleted set and the version it pointed at as from_version). Its rollback
// history goes with it. A process that dies between the delete and the
// audit write loses that audit entry (the deletion itself stands).
func (s *Store) DeleteAlias(ctx context.Context, req model.DeleteAliasRequest) (model.AuditEntry, error) {
	if err := req.Validate(); err != nil {
		return model.AuditEntry{}, err
	}
	cur, err := s.Alias(ctx, req.Model, req.Alias)
	exists := err == nil
	if err != nil && !(errors.Is(err, model.ErrAliasNotFound) && req.ExpectedRevision != nil) {
		return model.AuditEntry{}, err
	}
	if err := expectRevision(req.Model, req.Alias, "delete", cur, exists, req.ExpectedRevision); err != nil {
		return model.AuditEntry{}, err
	}
	if !exists { // expected revision 0 of a missing alias: nothing to delete
		return model.AuditEntry{}, model.Errorf(model.CodeAliasNotFound, "model %q has no alias %q", req.Model, req.Alias)
	}
	// The previous move's entry, if a crash lost it.
	if err := s.writeAudit(ctx, auditOf(cur)); err != nil {
		return model.AuditEntry{}, err
	}
	key := model.AliasKey(req.Model, req.Alias)
	if err := s.models.Delete(ctx, key, jetstream.LastRevision(cur.Revision)); err != nil {
		if isConflict(err) {
			return model.AuditEntry{}, model.Errorf(model.CodeConflict, "alias %s of model %s was moved or deleted by someone else meanwhile: read it again and retry", req.Alias, req.Model)
		}
		return model.AuditEntry{}, fmt.Errorf("delete %s: %w", key, err)
	}
	// The delete marker's revision names the audit entry: by the
	// compare-and-set it is the first revision after cur's.
	rev, err := s.deleteRevision(ctx, key, cur.Revision)
	if err != nil {
		return model.AuditEntry{}, err
	}
	entry := model.AuditEntry{
		Model: req.Model, Alias: req.Alias, At: s.now(), Actor: req.Actor, Reason: req.Reason,
		FromVersion: cur.Version, Deleted: true, Revision: rev,
	}
	if err := s.writeAudit(ctx, entry); err != nil {
		return model.AuditEntry{}, err
	}
	return entry, nil
}

// deleteRevision finds the revision of the delete marker that followed
// revision after of key.
func (s *Store) deleteRevision(ctx context.Context, key string, after uint64) (uint64, error) {
	hist, err := s.models.History(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("read history of %s: %w", key, err)
	}
	for _, e := range hist {
		if e.Revision() > after && e.Operation() == jetstream.KeyValueDelete {
			return e.Revision(), nil
		}
	}
	return 0, fmt.Errorf("history of %s: no delete after revision %d", key, after)
}

// Rollback moves production back to the version it pointed at before the
// current one (skipping versions archived since), by compare-and-set like
// MoveAlias. Rolling back again goes further back.
func (s *Store) Rollback(ctx context.Context, req model.RollbackRequest) (model.AuditEntry, error) {
	if err := req.Validate(); err != nil {
		return model.AuditEntry{}, err
	}
	cur, err := s.Alias(ctx, req.Model, model.AliasProduction)
	if errors.Is(err, model.ErrAliasNotFound) {
		return model.AuditEntry{}, model.Errorf(model.CodeNoRollbackTarget, "model %q has no production alias to roll back", req.Model)
	}
	if err != nil {
		return model.AuditEntry{}, err
	}
	prev := slices.Clone(cur.Previous)
	for len(prev) > 0 {
		target := prev[len(prev)-1]
		prev = prev[:len(prev)-1]
		v, _, err := s.version(ctx, req.Model, model.VersionRef(strconv.Itoa(target)))
		if errors.Is(err, model.ErrVersionNotFound) || (err == nil && v.Status == model.StatusArchived) || target == cur.Version {
			continue
		}
		if err != nil {
			return model.AuditEntry{}, err
		}
		return s.writeAlias(ctx, cur, true, req.Model, model.AliasProduction, target, nil, req.Actor, req.Reason, true, prev)
	}
	return model.AuditEntry{}, model.Errorf(model.CodeNoRollbackTarget, "production of model %q (version %d) has no earlier version to roll back to", req.Model, cur.Version)
}

// writeAlias checks the target version and writes the alias by CAS on
// cur's revision, then its audit entry. previous, when not nil, replaces the
// history (a rollback pops it); otherwise the current version is pushed.
func (s *Store) writeAlias(ctx context.Context, cur model.Alias, exists bool, name, alias string, to int, weight *float64,
	actor, reason string, rollback bool, previous []int,
) (model.AuditEntry, error) {
	v, _, err := s.version(ctx, name, model.VersionRef(strconv.Itoa(to)))
	if err != nil {
		return model.AuditEntry{}, err
	}
	if v.Status == model.StatusArchived {
		return model.AuditEntry{}, model.Errorf(model.CodeVersionArchived, "version %d of model %q is archived: an alias cannot point at it", to, name)
	}
	if err := s.checkFeatures(ctx, v); err != nil {
		return model.AuditEntry{}, err
	}
	if exists {
		// A crash after an earlier move's alias write lost its audit
		// entry: the alias record holds the same facts, so write it now.
		if err := s.writeAudit(ctx, auditOf(cur)); err != nil {
			return model.AuditEntry{}, err
		}
	}
	next := model.Alias{
		Model: name, Name: alias, Version: to, Weight: weight,
		MovedAt: s.now(), Actor: actor, Reason: reason, Rollback: rollback,
	}
	switch {
	case previous != nil:
		next.Previous = previous
	case exists:
		next.Previous = slices.Clone(cur.Previous)
		if cur.Version != to {
			next.Previous = append(next.Previous, cur.Version)
		}
	}
	if len(next.Previous) > model.MaxAliasHistory {
		next.Previous = next.Previous[len(next.Previous)-model.MaxAliasHistory:]
	}
	if exists {
		next.FromVersion = cur.Version
	}
	b, err := json.Marshal(next)
	if err != nil {
		return model.AuditEntry{}, fmt.Errorf("encode alias: %w", err)
	}
	key := model.AliasKey(name, alias)
	var rev uint64
	if exists {
		rev, err = s.models.Update(ctx, key, b, cur.Revision)
	} else {
		rev, err = s.models.Create(ctx, key, b)
	}
	if isConflict(err) {
		if !exists {
			return model.AuditEntry{}, model.Errorf(model.CodeConflict, "alias %s of model %s was created by someone else meanwhile: read it again and retry", alias, name)
		}
		return model.AuditEntry{}, model.Errorf(model.CodeConflict, "alias %s of model %s was moved or deleted by someone else meanwhile: read it again and retry", alias, name)
	}
	if err != nil {
		return model.AuditEntry{}, fmt.Errorf("write %s: %w", key, err)
	}
	next.Revision = rev
	entry := auditOf(next)
	if err := s.writeAudit(ctx, entry); err != nil {
		return model.AuditEntry{}, err
	}
	return entry, nil
}

func auditOf(a model.Alias) model.AuditEntry {
	return model.AuditEntry{
		Model: a.Model, Alias: a.Name, At: a.MovedAt, Actor: a.Actor,
		FromVersion: a.FromVersion, ToVersion: a.Version, Weight: a.Weight,
		Reason: a.Reason, Rollback: a.Rollback, Revision: a.Revision,
	}
}

// writeAudit writes an audit entry once: an entry already there is kept.
func (s *Store) writeAudit(ctx context.Context, e model.AuditEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	key := model.AuditKey(e.Model, e.Alias, e.Revision)
	if _, err := s.models.Create(ctx, key, b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// checkFeatures refuses a version whose feature definitions are not the
// applied ones (model.FeatureViewKey in tributary_features).
func (s *Store) checkFeatures(ctx context.Context, v model.Version) error {
	views := make([]string, 0, len(v.Lineage.FeatureDefinitions))
	for view := range v.Lineage.FeatureDefinitions {
		views = append(views, view)
	}
	slices.Sort(views)
	var problems []string
	for _, view := range views {
		want := v.Lineage.FeatureDefinitions[view]
		fv, _, err := getJSON[model.FeatureView](ctx, s.features, model.FeatureViewKey(view))
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			problems = append(problems, fmt.Sprintf("feature view %s is not applied (version %d needs %s)", view, v.Version, want))
		case err != nil:
			return fmt.Errorf("read feature view %s: %w", view, err)
		case fv.Version != want:
			problems = append(problems, fmt.Sprintf("feature view %s is at definition %s, version %d was trained on %s", view, fv.Version, v.Version, want))
		}
	}
	if len(problems) > 0 {
		return model.Errorf(model.CodeFeaturesNotApplied, "model %s version %d: %s", v.Model, v.Version, strings.Join(problems, "; "))
	}
	return nil
}

// Archive marks a version archived. A version that an alias points at is
// refused with ErrVersionAliased; archiving an archived version changes
// nothing and reports changed false.
func (s *Store) Archive(ctx context.Context, req model.ArchiveRequest) (v model.Version, changed bool, err error) {
	if err := req.Validate(); err != nil {
		return model.Version{}, false, err
	}
	v, rev, err := s.version(ctx, req.Model, model.VersionRef(strconv.Itoa(req.Version)))
	if err != nil {
		return model.Version{}, false, err
	}
	if v.Status == model.StatusArchived {
		return v, false, nil
	}
	aliases, err := s.Aliases(ctx, req.Model)
	if err != nil {
		return model.Version{}, false, err
	}
	var holding []string
	for _, a := range aliases {
		if a.Version == req.Version {
			holding = append(holding, a.Name)
		}
	}
	if len(holding) > 0 {
		return model.Version{}, false, model.Errorf(model.CodeVersionAliased,
			"version %d of model %q is the target of alias %s: move it first", req.Version, req.Model, strings.Join(holding, ", "))
	}
	v.Status = model.StatusArchived
	v.Archival = &model.Archival{At: s.now(), Actor: req.Actor, Reason: req.Reason}
	b, err := json.Marshal(v)
	if err != nil {
		return model.Version{}, false, fmt.Errorf("encode version: %w", err)
	}
	key := model.VersionKey(req.Model, req.Version)
	if _, err := s.models.Update(ctx, key, b, rev); err != nil {
		if isConflict(err) {
			return model.Version{}, false, model.Errorf(model.CodeConflict, "version %d of model %q changed meanwhile: retry", req.Version, req.Model)
		}
		return model.Version{}, false, fmt.Errorf("write %s: %w", key, err)
	}
	return v, true, nil
}

// OpenArtifact opens a version's artifact, verified as it is read
// (model.OpenArtifact).
func (s *Store) OpenArtifact(ctx context.Context, name string, ref model.VersionRef) (model.Version, io.ReadCloser, error) {
	v, err := s.Version(ctx, name, ref)
	if err != nil {
		return model.Version{}, nil, err
	}
	rc, _, err := model.OpenArtifact(ctx, s.obs, v.Artifact.SHA256)
	if err != nil {
		return model.Version{}, nil, err
	}
	return v, rc, nil
}
