package reason_test

import (
	"testing"

	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/reason"
)

func TestCatalogsAreConsistent(t *testing.T) {
	catalogs := map[string]reason.Catalog{
		"common": reason.Common(), "ingest": reason.Ingest(), "features": reason.Features(), "registry": reason.Registry(), "monitor": reason.Monitor(),
		"serving": reason.Serving(),
	}
	first := map[reason.ID]reason.Def{}
	for name, c := range catalogs {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, d := range c {
			// One id, one behaviour, whichever service answers it.
			if f, ok := first[d.ID]; ok && (f.Status != d.Status || f.DeadLettered != d.DeadLettered) {
				t.Errorf("%s: %s answers %d (dead-lettered %v), another catalog %d (%v)", name, d.ID, d.Status, d.DeadLettered, f.Status, f.DeadLettered)
			}
			first[d.ID] = d
		}
	}
}

// TestRegistryMatchesModel holds the registry's catalog to libs/model: every
// code of the registry's own (not the Common not_found and
// method_not_allowed of unmatched routes) is in it, once, with the status
// model.HTTPStatus answers.
func TestRegistryMatchesModel(t *testing.T) {
	codes := []model.Code{
		model.CodeInvalidName, model.CodeInvalidRequest, model.CodeTooLarge, model.CodeUnsupportedMedia,
		model.CodeModelNotFound, model.CodeVersionNotFound,
		model.CodeAliasNotFound, model.CodeConflict, model.CodeVersionArchived, model.CodeVersionAliased,
		model.CodeFeaturesNotApplied, model.CodeNoRollbackTarget, model.CodeArtifactNotFound,
		model.CodeArtifactCorrupt, model.CodeUnavailable, model.CodeInternal,
	}
	cat := reason.Registry()
	if len(cat) != len(codes) {
		t.Errorf("catalog has %d reasons, model %d codes", len(cat), len(codes))
	}
	for _, c := range codes {
		d, ok := cat.Lookup(reason.ID(c))
		if !ok {
			t.Errorf("code %s not in the catalog", c)
			continue
		}
		if d.Status != model.HTTPStatus(c) {
			t.Errorf("%s: catalog status %d, model %d", c, d.Status, model.HTTPStatus(c))
		}
	}
}
