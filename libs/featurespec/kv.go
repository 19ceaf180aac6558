package featurespec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/model"
)

// KeyPrefix starts the KV keys of views (model.FeatureViewKey).
const KeyPrefix = "view."

// Applied says what Apply did with a view.
type Applied struct {
	View    string
	Version string
	// Action is "created", "updated" or "unchanged".
	Action string
}

// Apply stores views in the KV bucket tributary_features, one key per view
// (model.FeatureViewKey) holding a model.FeatureView whose Definition is the
// view's canonical form. A view whose stored version is the same is left
// alone; writes are compare-and-set on the revision read, so concurrent
// applies of different versions do not silently overwrite each other.
func Apply(ctx context.Context, kv jetstream.KeyValue, views []View, now time.Time) ([]Applied, error) {
	out := make([]Applied, 0, len(views))
	for _, v := range views {
		key := model.FeatureViewKey(v.Name)
		var rev uint64
		action := "created"
		entry, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return out, fmt.Errorf("read view %s: %w", v.Name, err)
		default:
			var old model.FeatureView
			if json.Unmarshal(entry.Value(), &old) == nil && old.Version == v.Version {
				out = append(out, Applied{View: v.Name, Version: v.Version, Action: "unchanged"})
				continue
			}
			rev, action = entry.Revision(), "updated"
		}
		def, err := v.Canonical()
		if err != nil {
			return out, fmt.Errorf("encode view %s: %w", v.Name, err)
		}
		b, err := json.Marshal(model.FeatureView{Name: v.Name, Version: v.Version, AppliedAt: now.UTC(), Features: v.Names(), Definition: def})
		if err != nil {
			return out, fmt.Errorf("encode view %s: %w", v.Name, err)
		}
		if rev == 0 {
			_, err = kv.Create(ctx, key, b)
		} else {
			_, err = kv.Update(ctx, key, b, rev)
		}
		if err != nil {
			return out, fmt.Errorf("store view %s: %w", v.Name, err)
		}
		out = append(out, Applied{View: v.Name, Version: v.Version, Action: action})
	}
	return out, nil
}

// FromEntry decodes the view a KV value holds (a model.FeatureView with
// the canonical definition) and checks that key, name and version agree.
func FromEntry(key string, value []byte) (View, error) {
	var fv model.FeatureView
	if err := json.Unmarshal(value, &fv); err != nil {
		return View{}, fmt.Errorf("%w: key %s: %v", ErrInvalid, key, err)
	}
	v, err := DecodeView(fv.Definition)
	if err != nil {
		return View{}, fmt.Errorf("key %s: %w", key, err)
	}
	if model.FeatureViewKey(v.Name) != key || fv.Version != v.Version || fv.Name != v.Name {
		return View{}, fmt.Errorf("%w: key %s holds view %s version %s, definition of %s version %s", ErrInvalid, key, fv.Name, fv.Version, v.Name, v.Version)
	}
	return v, nil
}

// IsViewKey reports whether a KV key is a view's.
func IsViewKey(key string) bool { return strings.HasPrefix(key, KeyPrefix) }
