package model

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
)

// Model is a model's record (key ModelKey): it exists from the first
// registration on and holds the per-model version counter.
type Model struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// LatestVersion is the highest version number handed out; the next
	// registration gets LatestVersion+1.
	LatestVersion int `json:"latest_version"`
}

// ModelInfo is a model with its aliases, as the registry lists it.
type ModelInfo struct {
	Model
	Aliases []Alias `json:"aliases"`
}

// Status is the lifecycle state of a version.
type Status string

// Statuses.
const (
	StatusActive   Status = "active"
	StatusArchived Status = "archived"
)

// Artifact locates a version's artifact in the object store: the object
// named ArtifactName(SHA256).
type Artifact struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Version is a registered model version (key VersionKey).
type Version struct {
	Model   string `json:"model"`
	Version int    `json:"version"`
	// Format names the artifact format serving loads it by (lightgbm,
	// xgboost-json, linear, ...).
	Format       string    `json:"format"`
	Artifact     Artifact  `json:"artifact"`
	Lineage      Lineage   `json:"lineage"`
	Status       Status    `json:"status"`
	RegisteredAt time.Time `json:"registered_at"`
	RegisteredBy string    `json:"registered_by"`
	// RequestID is the registration's request id, if it had one.
	RequestID string `json:"request_id,omitempty"`
	// Archival is set once the version is archived.
	Archival *Archival `json:"archival,omitempty"`
}

// Archival says when, by whom and why a version was archived.
type Archival struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
}

// Lineage is where a version comes from and what it expects.
type Lineage struct {
	// TrainingSetID and TrainingSetSHA256 identify the training set
	// (event.DatasetReady's DatasetID and SHA256).
	TrainingSetID     string `json:"training_set_id"`
	TrainingSetSHA256 string `json:"training_set_sha256"`
	// FeatureDefinitions maps each feature view used to the version
	// (content hash) of its definition; see FeatureView. Empty for a
	// model that reads no feature views.
	FeatureDefinitions map[string]string `json:"feature_definitions,omitempty"`
	// Features are the input feature references ("view:feature") in the
	// order the model expects them.
	Features []string `json:"features"`
	// Categorical declares the categorical (string) features among
	// Features and the vocabulary the model maps their values with (the
	// artifact holds the same; serving reads it there). Absent for a model
	// of numeric features, and for models that take integer codes
	// themselves (LightGBM, XGBoost).
	Categorical map[string]Vocabulary `json:"categorical,omitempty"`
	// Trainer names the trainer; CodeVersion the version of its code (a
	// commit, an image digest).
	Trainer     string            `json:"trainer"`
	CodeVersion string            `json:"code_version"`
	Params      map[string]string `json:"params,omitempty"`
	// Metrics are the holdout metrics (auc, log_loss, rmse, ...).
	Metrics map[string]float64 `json:"metrics"`
	// Reference holds the distributions the drift monitor compares
	// windows against.
	Reference Reference     `json:"reference"`
	Trigger   event.Trigger `json:"trigger"`
	// JobID is the training job that produced the version, if any.
	JobID string `json:"job_id,omitempty"`
}

// Vocabulary is the vocabulary of a categorical feature: code i is
// Categories[i]; with Other, code len(Categories) stands for every other
// category. A value with no code is a missing value.
type Vocabulary struct {
	Categories []string `json:"categories"`
	Other      bool     `json:"other,omitempty"`
}

// Reference holds the reference distributions of a version, computed on its
// training or holdout data: one per input feature (keyed by feature
// reference) and one of the prediction.
type Reference struct {
	Features   map[string]Distribution `json:"features"`
	Prediction Distribution            `json:"prediction"`
}

// Alias is an alias of a model (key AliasKey): the version it points at and
// its last move.
type Alias struct {
	Model   string `json:"model"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Weight is the share of traffic (0..1) of the canary alias; nil for
	// the others.
	Weight *float64 `json:"weight,omitempty"`
	// The last move.
	MovedAt     time.Time `json:"moved_at"`
	Actor       string    `json:"actor"`
	Reason      string    `json:"reason,omitempty"`
	FromVersion int       `json:"from_version,omitempty"`
	Rollback    bool      `json:"rollback,omitempty"`
	// Previous are the versions the alias pointed at before, oldest
	// first (at most MaxAliasHistory): rollback goes back to the last.
	Previous []int `json:"previous,omitempty"`
	// Revision is the KV revision of the alias key when it was read; a
	// move can require it (MoveAliasRequest.ExpectedRevision).
	Revision uint64 `json:"revision"`
}

// MaxAliasHistory bounds Alias.Previous.
const MaxAliasHistory = 32

// AuditEntry records one alias move (key AuditKey).
type AuditEntry struct {
	Model       string    `json:"model"`
	Alias       string    `json:"alias"`
	At          time.Time `json:"at"`
	Actor       string    `json:"actor"`
	FromVersion int       `json:"from_version,omitempty"`
	ToVersion   int       `json:"to_version"`
	Weight      *float64  `json:"weight,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Rollback    bool      `json:"rollback,omitempty"`
	// Deleted is true for the deletion of the alias (ToVersion 0,
	// FromVersion the version it pointed at).
	Deleted bool `json:"deleted,omitempty"`
	// Revision is the revision of the alias key the move wrote (for a
	// deletion, the revision of the delete marker).
	Revision uint64 `json:"revision"`
}

// RegisterRequest asks the registry to register a new version whose artifact
// is already in the object store (PutArtifact).
type RegisterRequest struct {
	Model    string   `json:"model"`
	Format   string   `json:"format"`
	Artifact Artifact `json:"artifact"`
	Lineage  Lineage  `json:"lineage"`
	Actor    string   `json:"actor"`
	// RequestID, when set, makes the registration idempotent: a request
	// repeated with the same id (a retry after a timeout) returns the
	// version the first one registered instead of registering another.
	// The trainer uses its job id.
	RequestID string `json:"request_id,omitempty"`
}

var (
	sha256Pattern     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	featureRefPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$`)
	viewPattern       = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

var triggers = []event.Trigger{
	event.TriggerManual, event.TriggerSchedule, event.TriggerLabels, event.TriggerDrift, event.TriggerPerformance,
}

// Validate checks the request; the error is an *Error (CodeInvalidName or
// CodeInvalidRequest) naming the first field at fault.
func (r RegisterRequest) Validate() error {
	if err := ValidateName("model", r.Model); err != nil {
		return err
	}
	bad := func(format string, args ...any) error { return Errorf(CodeInvalidRequest, format, args...) }
	if err := checkText("format", r.Format, 64); err != nil {
		return err
	}
	if err := checkText("actor", r.Actor, 256); err != nil {
		return err
	}
	if r.RequestID != "" && !namePattern.MatchString(r.RequestID) {
		return bad("request_id %q: want 1 to 64 letters, digits, '_' or '-'", r.RequestID)
	}
	if !sha256Pattern.MatchString(r.Artifact.SHA256) {
		return bad("artifact.sha256 %q: want 64 lowercase hex digits", r.Artifact.SHA256)
	}
	if r.Artifact.Size <= 0 {
		return bad("artifact.size %d: must be positive", r.Artifact.Size)
	}
	l := r.Lineage
	if err := checkText("lineage.training_set_id", l.TrainingSetID, 256); err != nil {
		return err
	}
	if !sha256Pattern.MatchString(l.TrainingSetSHA256) {
		return bad("lineage.training_set_sha256 %q: want 64 lowercase hex digits", l.TrainingSetSHA256)
	}
	if err := checkText("lineage.trainer", l.Trainer, 128); err != nil {
		return err
	}
	if err := checkText("lineage.code_version", l.CodeVersion, 128); err != nil {
		return err
	}
	if !slices.Contains(triggers, l.Trigger) {
		return bad("lineage.trigger %q: want one of %v", l.Trigger, triggers)
	}
	for view, v := range l.FeatureDefinitions {
		if !viewPattern.MatchString(view) {
			return bad("lineage.feature_definitions: invalid view name %q", view)
		}
		if err := checkText("lineage.feature_definitions["+view+"]", v, 128); err != nil {
			return err
		}
	}
	if len(l.Features) == 0 {
		return bad("lineage.features: at least one feature is required")
	}
	seen := make(map[string]bool, len(l.Features))
	for _, f := range l.Features {
		if !featureRefPattern.MatchString(f) {
			return bad("lineage.features: %q is not a feature reference view:feature", f)
		}
		if seen[f] {
			return bad("lineage.features: %q is listed twice", f)
		}
		seen[f] = true
		if len(l.FeatureDefinitions) > 0 {
			view, _, _ := strings.Cut(f, ":")
			if _, ok := l.FeatureDefinitions[view]; !ok {
				return bad("lineage.features: view of %q has no entry in lineage.feature_definitions", f)
			}
		}
		d, ok := l.Reference.Features[f]
		if !ok {
			return bad("lineage.reference.features: no reference distribution of %q", f)
		}
		if err := d.Validate(); err != nil {
			return bad("lineage.reference.features[%s]: %v", f, err)
		}
	}
	for f := range l.Reference.Features {
		if !seen[f] {
			return bad("lineage.reference.features: %q is not in lineage.features", f)
		}
	}
	for f, v := range l.Categorical {
		if !seen[f] {
			return bad("lineage.categorical: %q is not in lineage.features", f)
		}
		if l.Reference.Features[f].Kind != KindCategorical {
			return bad("lineage.categorical: the reference distribution of %q is not categorical", f)
		}
		cats := make(map[string]bool, len(v.Categories))
		for _, c := range v.Categories {
			if cats[c] {
				return bad("lineage.categorical[%s]: category %q is listed twice", f, c)
			}
			cats[c] = true
		}
	}
	if err := l.Reference.Prediction.Validate(); err != nil {
		return bad("lineage.reference.prediction: %v", err)
	}
	if l.Metrics == nil {
		return bad("lineage.metrics: required (may be empty)")
	}
	return nil
}

func checkText(field, s string, maxLen int) error {
	if s == "" {
		return Errorf(CodeInvalidRequest, "%s: required", field)
	}
	if len(s) > maxLen {
		return Errorf(CodeInvalidRequest, "%s: longer than %d bytes", field, maxLen)
	}
	return nil
}

// MoveAliasRequest points an alias at a version.
type MoveAliasRequest struct {
	Model   string `json:"model"`
	Alias   string `json:"alias"`
	Version int    `json:"version"`
	// Weight is required for the canary alias (0..1) and refused for the
	// others.
	Weight *float64 `json:"weight,omitempty"`
	Actor  string   `json:"actor"`
	Reason string   `json:"reason,omitempty"`
	// ExpectedRevision, when set, makes the move conditional: it fails
	// with ErrConflict unless the alias key is at this revision (0: the
	// alias must not exist yet). Without it the move is still atomic,
	// but only a move that overlaps it conflicts.
	ExpectedRevision *uint64 `json:"expected_revision,omitempty"`
}

// Validate checks the request.
func (r MoveAliasRequest) Validate() error {
	if err := ValidateName("model", r.Model); err != nil {
		return err
	}
	if err := ValidateAliasName(r.Alias); err != nil {
		return err
	}
	if r.Version < 1 {
		return Errorf(CodeInvalidRequest, "version %d: must be 1 or more", r.Version)
	}
	if err := checkActorReason(r.Actor, r.Reason); err != nil {
		return err
	}
	switch {
	case r.Alias == AliasCanary && r.Weight == nil:
		return Errorf(CodeInvalidRequest, "weight: required for the canary alias (0..1)")
	case r.Alias != AliasCanary && r.Weight != nil:
		return Errorf(CodeInvalidRequest, "weight: only the canary alias has a traffic weight")
	case r.Weight != nil && !(*r.Weight >= 0 && *r.Weight <= 1):
		return Errorf(CodeInvalidRequest, "weight %v: must be between 0 and 1", *r.Weight)
	}
	return nil
}

// DeleteAliasRequest removes an alias.
type DeleteAliasRequest struct {
	Model  string `json:"model"`
	Alias  string `json:"alias"`
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
	// ExpectedRevision, when set, makes the deletion conditional: it fails
	// with ErrConflict unless the alias key is at this revision.
	ExpectedRevision *uint64 `json:"expected_revision,omitempty"`
}

// Validate checks the request. Any valid name is accepted (also a numeric
// one that an older registry let through), so that it can be removed.
func (r DeleteAliasRequest) Validate() error {
	if err := ValidateName("model", r.Model); err != nil {
		return err
	}
	if err := ValidateName("alias", r.Alias); err != nil {
		return err
	}
	return checkActorReason(r.Actor, r.Reason)
}

func checkActorReason(actor, reason string) error {
	if err := checkText("actor", actor, 256); err != nil {
		return err
	}
	if len(reason) > 1024 {
		return Errorf(CodeInvalidRequest, "reason: longer than 1024 bytes")
	}
	return nil
}

// RollbackRequest moves the production alias back to the version it pointed
// at before.
type RollbackRequest struct {
	Model  string `json:"model"`
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
}

// Validate checks the request.
func (r RollbackRequest) Validate() error {
	if err := ValidateName("model", r.Model); err != nil {
		return err
	}
	return checkActorReason(r.Actor, r.Reason)
}

// ArchiveRequest archives a version.
type ArchiveRequest struct {
	Model   string `json:"model"`
	Version int    `json:"version"`
	Actor   string `json:"actor"`
	Reason  string `json:"reason,omitempty"`
}

// Validate checks the request.
func (r ArchiveRequest) Validate() error {
	if err := ValidateName("model", r.Model); err != nil {
		return err
	}
	if r.Version < 1 {
		return Errorf(CodeInvalidRequest, "version %d: must be 1 or more", r.Version)
	}
	return checkActorReason(r.Actor, r.Reason)
}

// VersionRef is a version number ("7") or an alias ("production").
type VersionRef string

// Number returns the version number of a numeric reference.
func (r VersionRef) Number() (int, bool) {
	var n int
	if _, err := fmt.Sscanf(string(r), "%d", &n); err != nil || fmt.Sprint(n) != string(r) || n < 1 {
		return 0, false
	}
	return n, true
}
