package refs

import (
	"context"
	"errors"
	"testing"

	"github.com/tributary-ml/tributary/libs/model"
)

type fakeRegistry struct {
	calls    int
	versions map[int]model.Version
	err      error
}

func (f *fakeRegistry) Version(_ context.Context, _ string, ref model.VersionRef) (model.Version, error) {
	f.calls++
	if f.err != nil {
		return model.Version{}, f.err
	}
	n, _ := ref.Number()
	v, ok := f.versions[n]
	if !ok {
		return model.Version{}, model.Errorf(model.CodeVersionNotFound, "no version %d", n)
	}
	return v, nil
}

func TestCache(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5}
	good := model.Reference{Features: map[string]model.Distribution{"v:x": model.NewNumeric(xs, 4)}, Prediction: model.NewNumeric(xs, 4)}
	bad := good
	bad.Prediction = model.Distribution{Kind: model.KindNumeric, Count: 3, Edges: []float64{2, 1}, Counts: []int64{1}}
	reg := &fakeRegistry{versions: map[int]model.Version{
		1: {Lineage: model.Lineage{Reference: good}},
		2: {},                                       // no reference
		3: {Lineage: model.Lineage{Reference: bad}}, // one that cannot be used
	}}
	c := &Cache{client: func(context.Context) (versionReader, error) { return reg, nil }, refs: map[string]*model.Reference{}}
	ctx := context.Background()
	for _, tc := range []struct {
		version int
		ok      bool
	}{{1, true}, {2, false}, {3, false}, {4, false}, {1, true}, {2, false}, {4, false}} {
		ref, ok, err := c.Reference(ctx, "churn", tc.version)
		if err != nil || ok != tc.ok {
			t.Fatalf("v%d: ok %v, error %v; want ok %v", tc.version, ok, err, tc.ok)
		}
		if ok && len(ref.Features) != 1 {
			t.Fatalf("v%d: reference %+v", tc.version, ref)
		}
	}
	if reg.calls != 4 {
		t.Errorf("%d registry calls for 4 versions, want 4 (cached)", reg.calls)
	}
	// The registry down: an error, and nothing cached.
	reg.err = errors.New("no responders")
	if _, _, err := c.Reference(ctx, "churn", 5); err == nil {
		t.Fatal("no error with the registry down")
	}
	reg.err = nil
	reg.versions[5] = model.Version{Lineage: model.Lineage{Reference: good}}
	if _, ok, err := c.Reference(ctx, "churn", 5); err != nil || !ok {
		t.Fatalf("after the registry came back: ok %v, error %v", ok, err)
	}
}
