package model

import (
	"encoding/json"
	"time"
)

// FeatureViewKey is the key, in the KV bucket tributary_features, of the
// definition of a feature view that is currently applied. The features
// service writes it (one key per view, the current definition as a
// FeatureView in JSON) and deletes it when the view is removed; the registry
// reads it before moving an alias: a version whose Lineage.FeatureDefinitions
// name a view that has no key, or whose Version differs, is refused with
// ErrFeaturesNotApplied.
func FeatureViewKey(view string) string { return "view." + view }

// FeatureView is the value of FeatureViewKey: the definition of a feature
// view as applied.
type FeatureView struct {
	Name string `json:"name"`
	// Version identifies the definition: the hex sha256 of its canonical
	// form (what Lineage.FeatureDefinitions records).
	Version   string    `json:"version"`
	AppliedAt time.Time `json:"applied_at"`
	// Features are the names of the view's features.
	Features []string `json:"features,omitempty"`
	// Definition is the definition itself, as the features service keeps
	// it; the registry does not read it.
	Definition json.RawMessage `json:"definition,omitempty"`
}
