package model_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"fraud", "Fraud_2", "a", "x-y", strings.Repeat("a", 64), "9lives"} {
		if err := model.ValidateName("model", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a.b", "a b", "-x", "_x", "a*", "a>", "ü", strings.Repeat("a", 65), "a/b"} {
		err := model.ValidateName("alias", bad)
		if !errors.Is(err, model.ErrInvalidName) || !strings.Contains(err.Error(), "invalid alias name") {
			t.Errorf("%q: %v, want ErrInvalidName", bad, err)
		}
	}
}

func TestKeys(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{model.ModelKey("fraud"), "model.fraud"},
		{model.VersionKey("fraud", 12), "model.fraud.v.12"},
		{model.VersionKeyFilter("fraud"), "model.fraud.v.*"},
		{model.AliasKey("fraud", "production"), "model.fraud.alias.production"},
		{model.AuditKey("fraud", "canary", 42), "model.fraud.audit.canary.00000000000000000042"},
		{model.AuditKeyFilter("fraud"), "model.fraud.audit.>"},
		{model.FeatureViewKey("txn"), "view.txn"},
		{model.RequestKey("fraud", "job-1"), "model.fraud.request.job-1"},
		{model.ArtifactName("ab"), "sha256/ab"},
		{model.Subject("", model.VerbRegister), "tributary.registry.register"},
		{model.Subject("t1_", model.VerbAlias), "t1_tributary.registry.alias"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	for _, verb := range model.Verbs() {
		if event.InStream(model.Subject("", verb)) {
			t.Errorf("request subject of %s is captured by the stream", verb)
		}
	}
}

func TestErrors(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", model.Errorf(model.CodeConflict, "alias moved meanwhile"))
	if !errors.Is(err, model.ErrConflict) || errors.Is(err, model.ErrModelNotFound) {
		t.Fatalf("errors.Is by code broken for %v", err)
	}
	if model.CodeOf(err) != model.CodeConflict || model.CodeOf(errors.New("x")) != model.CodeInternal || model.CodeOf(nil) != "" {
		t.Fatal("CodeOf")
	}
	// An error decoded from the wire still matches.
	var back model.Error
	b, _ := json.Marshal(model.Errorf(model.CodeArtifactCorrupt, "bad"))
	if err := json.Unmarshal(b, &back); err != nil || !errors.Is(&back, model.ErrArtifactCorrupt) || string(b) != `{"id":"artifact_corrupt","message":"bad"}` {
		t.Fatalf("wire form %s, %v", b, err)
	}
	for code, status := range map[model.Code]int{
		model.CodeInvalidName: 400, model.CodeInvalidRequest: 400, model.CodeModelNotFound: 404, model.CodeVersionNotFound: 404,
		model.CodeAliasNotFound: 404, model.CodeArtifactNotFound: 404, model.CodeConflict: 409, model.CodeFeaturesNotApplied: 409,
		model.CodeVersionArchived: 409, model.CodeVersionAliased: 409, model.CodeNoRollbackTarget: 409,
		model.CodeArtifactCorrupt: http.StatusUnprocessableEntity, model.CodeUnavailable: 503, model.CodeInternal: 500,
		model.CodeTooLarge: 413, model.CodeUnsupportedMedia: 415, model.CodeNotFound: 404, model.CodeMethodNotAllowed: 405,
		"no_such_code": 500,
	} {
		if got := model.HTTPStatus(code); got != status {
			t.Errorf("%s: status %d, want %d", code, got, status)
		}
	}
}

func TestVersionRef(t *testing.T) {
	for ref, want := range map[string]int{"1": 1, "42": 42, "0": 0, "-1": 0, "01": 0, "1.5": 0, "production": 0, "": 0, "3x": 0} {
		n, ok := model.VersionRef(ref).Number()
		if n != want || ok != (want > 0) {
			t.Errorf("%q: %d %v, want %d", ref, n, ok, want)
		}
	}
}

func validRequest() model.RegisterRequest {
	d := model.NewNumeric([]float64{1, 2, 3}, 2)
	return model.RegisterRequest{
		Model: "fraud", Format: "linear", Actor: "t",
		Artifact: model.Artifact{SHA256: strings.Repeat("a", 64), Size: 10},
		Lineage: model.Lineage{
			TrainingSetID: "ds", TrainingSetSHA256: strings.Repeat("b", 64),
			FeatureDefinitions: map[string]string{"txn": "h1"},
			Features:           []string{"txn:a", "txn:b"},
			Trainer:            "go", CodeVersion: "c", Metrics: map[string]float64{},
			Reference: model.Reference{Features: map[string]model.Distribution{"txn:a": d, "txn:b": model.NewCategorical([]string{"x", "y"}, 0)}, Prediction: d},
			Trigger:   event.TriggerDrift,
		},
	}
}

func TestRegisterRequestValidate(t *testing.T) {
	if err := validRequest().Validate(); err != nil {
		t.Fatalf("valid request: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*model.RegisterRequest)
		want   string
	}{
		{"model name", func(r *model.RegisterRequest) { r.Model = "a.b" }, "invalid model name"},
		{"format", func(r *model.RegisterRequest) { r.Format = "" }, "format: required"},
		{"actor", func(r *model.RegisterRequest) { r.Actor = "" }, "actor: required"},
		{"request id", func(r *model.RegisterRequest) { r.RequestID = "job.1" }, "request_id"},
		{"sha256", func(r *model.RegisterRequest) { r.Artifact.SHA256 = "ABC" }, "artifact.sha256"},
		{"size", func(r *model.RegisterRequest) { r.Artifact.Size = 0 }, "artifact.size"},
		{"training set", func(r *model.RegisterRequest) { r.Lineage.TrainingSetID = "" }, "training_set_id"},
		{"training set hash", func(r *model.RegisterRequest) { r.Lineage.TrainingSetSHA256 = "x" }, "training_set_sha256"},
		{"trigger", func(r *model.RegisterRequest) { r.Lineage.Trigger = "whim" }, "lineage.trigger"},
		{"no features", func(r *model.RegisterRequest) { r.Lineage.Features = nil }, "at least one feature"},
		{"bad feature ref", func(r *model.RegisterRequest) { r.Lineage.Features[0] = "amount" }, "not a feature reference"},
		{"duplicate feature", func(r *model.RegisterRequest) { r.Lineage.Features[1] = "txn:a" }, "listed twice"},
		{"view without definition", func(r *model.RegisterRequest) {
			r.Lineage.Features[1] = "card:b"
			r.Lineage.Reference.Features["card:b"] = r.Lineage.Reference.Features["txn:b"]
			delete(r.Lineage.Reference.Features, "txn:b")
		}, "no entry in lineage.feature_definitions"},
		{"missing reference", func(r *model.RegisterRequest) { delete(r.Lineage.Reference.Features, "txn:b") }, "no reference distribution of \"txn:b\""},
		{"extra reference", func(r *model.RegisterRequest) {
			r.Lineage.Reference.Features["txn:c"] = r.Lineage.Reference.Prediction
		}, "not in lineage.features"},
		{"bad prediction reference", func(r *model.RegisterRequest) { r.Lineage.Reference.Prediction = model.Distribution{} }, "lineage.reference.prediction"},
		{"nil metrics", func(r *model.RegisterRequest) { r.Lineage.Metrics = nil }, "lineage.metrics"},
		{"bad view name", func(r *model.RegisterRequest) { r.Lineage.FeatureDefinitions["a.b"] = "h" }, "invalid view name"},
		{"categorical not a feature", func(r *model.RegisterRequest) {
			r.Lineage.Categorical = map[string]model.Vocabulary{"txn:z": {Categories: []string{"x"}}}
		}, "lineage.categorical: \"txn:z\" is not in lineage.features"},
		{"categorical with a numeric reference", func(r *model.RegisterRequest) {
			r.Lineage.Categorical = map[string]model.Vocabulary{"txn:a": {Categories: []string{"x"}}}
		}, "is not categorical"},
		{"categorical category twice", func(r *model.RegisterRequest) {
			r.Lineage.Categorical = map[string]model.Vocabulary{"txn:b": {Categories: []string{"x", "x"}}}
		}, "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			tc.change(&r)
			err := r.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if c := model.CodeOf(err); c != model.CodeInvalidRequest && c != model.CodeInvalidName {
				t.Fatalf("code %s", c)
			}
		})
	}
	// A categorical feature with a categorical reference.
	r := validRequest()
	r.Lineage.Categorical = map[string]model.Vocabulary{"txn:b": {Categories: []string{"x", "y"}, Other: true}}
	if err := r.Validate(); err != nil {
		t.Fatalf("with a categorical feature: %v", err)
	}
	// Without feature definitions, features need no views.
	r = validRequest()
	r.Lineage.FeatureDefinitions = nil
	if err := r.Validate(); err != nil {
		t.Fatalf("without feature definitions: %v", err)
	}
}

func TestNumericDistribution(t *testing.T) {
	values := make([]float64, 0, 1002)
	for i := 0; i < 1000; i++ {
		values = append(values, float64(i))
	}
	values = append(values, math.NaN(), math.Inf(1))
	d := model.NewNumeric(values, 10)
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Count != 1000 || d.Missing != 2 || len(d.Edges) != 11 || d.Min != 0 || d.Max != 999 || d.Mean != 499.5 {
		t.Fatalf("distribution %+v", d)
	}
	if math.Abs(d.StdDev-288.675) > 0.01 {
		t.Fatalf("stddev %v", d.StdDev)
	}
	for i, c := range d.Counts {
		if c < 99 || c > 101 {
			t.Errorf("bin %d holds %d, want about 100 (quantile bins)", i, c)
		}
	}
	// Out-of-range values fall in the outer bins.
	if d.Bin(-1e9) != 0 || d.Bin(1e9) != 9 || d.Bin(d.Edges[3]) != 3 {
		t.Fatalf("bins: %d %d %d", d.Bin(-1e9), d.Bin(1e9), d.Bin(d.Edges[3]))
	}
	// A window binned on the reference's edges is comparable bin by bin.
	w := model.NumericWindow(d.Edges, []float64{-5, 0, 500, 2000, math.NaN()})
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	if w.Count != 4 || w.Missing != 1 || w.Counts[0] != 2 || w.Counts[9] != 1 || len(w.Proportions()) != len(d.Proportions()) {
		t.Fatalf("window %+v", w)
	}
	var sum float64
	for _, p := range d.Proportions() {
		sum += p
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("proportions sum to %v", sum)
	}
	// Few distinct values merge edges; a constant gets a unit interval.
	if c := model.NewNumeric([]float64{3, 3, 3}, 10); len(c.Edges) != 2 || c.Counts[0] != 3 || c.Validate() != nil {
		t.Fatalf("constant: %+v", c)
	}
	if e := model.NewNumeric(nil, 10); e.Count != 0 || e.Validate() != nil || !slices.Equal(e.Proportions(), []float64{0}) {
		t.Fatalf("empty: %+v", e)
	}
	// The JSON form round-trips.
	b, _ := json.Marshal(d)
	var back model.Distribution
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back.Counts, d.Counts) || back.Kind != model.KindNumeric {
		t.Fatalf("round trip: %v", err)
	}
}

func TestCategoricalDistribution(t *testing.T) {
	d := model.NewCategorical([]string{"a", "b", "a", "c", "a", "b", "d"}, 2)
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Count != 7 || d.Categories["a"] != 3 || d.Categories["b"] != 2 || d.Other != 2 || len(d.Categories) != 2 {
		t.Fatalf("distribution %+v", d)
	}
	w := model.CategoricalWindow(d, []string{"a", "z", "z"})
	if w.Categories["a"] != 1 || w.Categories["b"] != 0 || w.Other != 2 || w.Validate() != nil {
		t.Fatalf("window %+v", w)
	}
	if p := w.Proportions(); len(p) != 3 || p[0] != 1.0/3 || p[2] != 2.0/3 {
		t.Fatalf("proportions %v (a, b, other)", p)
	}
}

func TestDistributionValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    model.Distribution
		want string
	}{
		{"kind", model.Distribution{Kind: "histogram"}, "kind"},
		{"one edge", model.Distribution{Kind: model.KindNumeric, Edges: []float64{1}}, "two bin edges"},
		{"decreasing", model.Distribution{Kind: model.KindNumeric, Edges: []float64{2, 1}, Counts: []int64{0}}, "increase"},
		{"nan edge", model.Distribution{Kind: model.KindNumeric, Edges: []float64{0, math.NaN()}, Counts: []int64{0}}, "edge 1"},
		{"counts length", model.Distribution{Kind: model.KindNumeric, Edges: []float64{0, 1}, Counts: []int64{1, 2}}, "counts for"},
		{"sum", model.Distribution{Kind: model.KindNumeric, Count: 5, Edges: []float64{0, 1}, Counts: []int64{4}}, "sum to 4"},
		{"negative", model.Distribution{Kind: model.KindNumeric, Count: -1}, "negative"},
		{"categorical sum", model.Distribution{Kind: model.KindCategorical, Count: 3, Categories: map[string]int64{"a": 1}}, "sum to 1"},
		{"mixed", model.Distribution{Kind: model.KindCategorical, Edges: []float64{0, 1}}, "numeric distributions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.d.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
