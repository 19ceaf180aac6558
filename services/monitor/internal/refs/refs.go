// Package refs reads the reference distributions of model versions from
// the registry (the lineage of each version), cached per version: a
// version's lineage never changes.
package refs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/tributary-ml/tributary/libs/model"
)

type versionReader interface {
	Version(ctx context.Context, name string, ref model.VersionRef) (model.Version, error)
}

// Cache answers references by version.
type Cache struct {
	client func(context.Context) (versionReader, error)
	mu     sync.Mutex
	refs   map[string]*model.Reference // nil: the version has none
}

// NewCache reads versions with the client that client returns.
func NewCache(client func(context.Context) (*model.Client, error)) *Cache {
	return &Cache{client: func(ctx context.Context) (versionReader, error) { return client(ctx) }, refs: map[string]*model.Reference{}}
}

// Reference returns the reference of the version, ok false when it has
// none (no such version, or a lineage without reference distributions).
// An error is transient (the registry did not answer).
func (c *Cache) Reference(ctx context.Context, name string, version int) (ref model.Reference, ok bool, err error) {
	key := name + "\x00" + strconv.Itoa(version)
	c.mu.Lock()
	r, hit := c.refs[key]
	c.mu.Unlock()
	if hit {
		if r == nil {
			return model.Reference{}, false, nil
		}
		return *r, true, nil
	}
	cl, err := c.client(ctx)
	if err != nil {
		return model.Reference{}, false, err
	}
	v, err := cl.Version(ctx, name, model.VersionRef(strconv.Itoa(version)))
	switch {
	case errors.Is(err, model.ErrVersionNotFound), errors.Is(err, model.ErrModelNotFound):
		r = nil
	case err != nil:
		return model.Reference{}, false, fmt.Errorf("read reference of %s v%d: %w", name, version, err)
	case len(v.Lineage.Reference.Features) == 0 && v.Lineage.Reference.Prediction.Count == 0:
		r = nil
	case valid(v.Lineage.Reference) != nil:
		r = nil
	default:
		r = &v.Lineage.Reference
	}
	c.mu.Lock()
	c.refs[key] = r
	c.mu.Unlock()
	if r == nil {
		return model.Reference{}, false, nil
	}
	return *r, true, nil
}

// valid checks every distribution of ref.
func valid(ref model.Reference) error {
	for name, d := range ref.Features {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("feature %q: %w", name, err)
		}
	}
	return ref.Prediction.Validate()
}
