package trainspec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/model"
)

// ErrUnknownFeature reports a feature reference whose view or feature is not
// applied; the error names the reference and its place in the spec.
var ErrUnknownFeature = fmt.Errorf("%w: unknown feature", ErrInvalid)

// Views reads the applied feature views.
type Views interface {
	View(ctx context.Context, name string) (model.FeatureView, bool, error)
}

// KVViews reads the applied views from the KV bucket tributary_features.
type KVViews struct{ KV jetstream.KeyValue }

// View returns the applied definition of a view.
func (v KVViews) View(ctx context.Context, name string) (model.FeatureView, bool, error) {
	e, err := v.KV.Get(ctx, model.FeatureViewKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return model.FeatureView{}, false, nil
	}
	if err != nil {
		return model.FeatureView{}, false, fmt.Errorf("read feature view %s: %w", name, err)
	}
	var fv model.FeatureView
	if err := json.Unmarshal(e.Value(), &fv); err != nil {
		return model.FeatureView{}, false, fmt.Errorf("decode feature view %s: %w", name, err)
	}
	return fv, true, nil
}

// Check checks the spec's feature references against the applied views and
// returns the version of each view it reads. An error wrapping
// ErrUnknownFeature names the reference; other errors are from reading.
func Check(ctx context.Context, s *Spec, views Views) (map[string]string, error) {
	versions := map[string]string{}
	for i, f := range s.Features {
		view, feat, _ := strings.Cut(f, ":")
		fv, ok, err := views.View(ctx, view)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: spec %s: features[%d]: %q: no feature view %q is applied", ErrUnknownFeature, s.Model, i, f, view)
		}
		if !slices.Contains(fv.Features, feat) {
			return nil, fmt.Errorf("%w: spec %s: features[%d]: %q: view %s has no feature %q (it has %v)", ErrUnknownFeature, s.Model, i, f, view, feat, fv.Features)
		}
		versions[view] = fv.Version
	}
	return versions, nil
}

// KeyPrefix starts the KV keys of the specs in tributary_jobs.
const KeyPrefix = "specs."

// SpecKey is the key of a model's spec in the KV bucket tributary_jobs.
func SpecKey(model string) string { return KeyPrefix + model }

// Stored is the value of SpecKey: the spec as applied.
type Stored struct {
	Version   string    `json:"version"`
	AppliedAt time.Time `json:"applied_at"`
	Spec      Spec      `json:"spec"`
}

// Applied says what Apply did.
type Applied struct {
	Model   string
	Version string
	Action  string // created, updated or unchanged
}

// Apply stores a checked spec under SpecKey, compare-and-set on the revision
// read; a spec whose stored version is the same is left alone.
func Apply(ctx context.Context, kv jetstream.KeyValue, s *Spec, now time.Time) (Applied, error) {
	key := SpecKey(s.Model)
	out := Applied{Model: s.Model, Version: s.Version(), Action: "created"}
	var rev uint64
	e, err := kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return out, fmt.Errorf("read spec %s: %w", s.Model, err)
	default:
		var old Stored
		if json.Unmarshal(e.Value(), &old) == nil && old.Version == out.Version {
			out.Action = "unchanged"
			return out, nil
		}
		rev, out.Action = e.Revision(), "updated"
	}
	b, err := json.Marshal(Stored{Version: out.Version, AppliedAt: now.UTC(), Spec: *s})
	if err != nil {
		return out, fmt.Errorf("encode spec %s: %w", s.Model, err)
	}
	if rev == 0 {
		_, err = kv.Create(ctx, key, b)
	} else {
		_, err = kv.Update(ctx, key, b, rev)
	}
	if err != nil {
		return out, fmt.Errorf("store spec %s: %w", s.Model, err)
	}
	return out, nil
}

// ErrNotApplied reports a model that has no applied spec.
var ErrNotApplied = errors.New("no training spec applied")

// Load reads a model's applied spec.
func Load(ctx context.Context, kv jetstream.KeyValue, modelName string) (Stored, error) {
	e, err := kv.Get(ctx, SpecKey(modelName))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Stored{}, fmt.Errorf("%w for model %s (tributary models apply FILE)", ErrNotApplied, modelName)
	}
	if err != nil {
		return Stored{}, fmt.Errorf("read spec %s: %w", modelName, err)
	}
	var st Stored
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return Stored{}, fmt.Errorf("decode spec %s: %w", modelName, err)
	}
	return st, nil
}
