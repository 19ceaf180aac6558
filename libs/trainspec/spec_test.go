package trainspec_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/trainspec"
)

const valid = `
model: fraud
features: [txn:amount_sum_1h, txn:count_1h]
labels: fraud
task: binary
trainer: {runner: go, name: logistic, params: {c: "0.5"}}
seed: 7
window: 30d
holdout: 0.2
metric: auc
policy: {kind: auto, margin: 0.01}
`

func TestExampleFileParses(t *testing.T) {
	b, err := os.ReadFile("../../schemas/models/fraud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := trainspec.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Model != "fraud" || len(s.Features) != 3 || time.Duration(s.Window) != 30*24*time.Hour || s.Policy.Kind != trainspec.PolicyAuto {
		t.Errorf("parsed %+v", s)
	}
}

func TestParseErrorsNameThePlace(t *testing.T) {
	cases := []struct {
		name, from, to, want string
	}{
		{"bad model", "model: fraud", "model: 'fr aud'", "spec fr aud: model: \"fr aud\": want 1 to 64"},
		{"bad ref", "txn:count_1h]", "count_1h]", "spec fraud: features[1]: \"count_1h\" is not a feature reference"},
		{"twice", "txn:count_1h]", "txn:amount_sum_1h]", "features[1]: \"txn:amount_sum_1h\" is listed twice"},
		{"no labels", "labels: fraud", "labels: ''", "spec fraud: labels:"},
		{"task", "task: binary", "task: ranking", "spec fraud: task: \"ranking\""},
		{"multiclass classes", "task: binary", "task: multiclass", "spec fraud: classes: 0"},
		{"runner", "runner: go", "runner: spark", "spec fraud: trainer.runner: \"spark\""},
		{"trainer", "name: logistic", "name: forest", "spec fraud: trainer.name: \"forest\""},
		{"trainer task", "task: binary", "task: regression", "spec fraud: trainer.name: logistic does not learn a regression task"},
		{"param", `c: "0.5"`, `c: "lots"`, "spec fraud: trainer.params.c: \"lots\" is not a finite number"},
		{"unknown param", `c: "0.5"`, `depth: "3"`, "spec fraud: trainer.params.depth: unknown parameter of logistic"},
		{"window", "window: 30d", "window: 0s", "spec fraud: window: required"},
		{"holdout", "holdout: 0.2", "holdout: 1.5", "spec fraud: holdout: 1.5"},
		{"metric", "metric: auc", "metric: rmse", "spec fraud: metric: \"rmse\": want one of [auc log_loss accuracy f1] for a binary task"},
		{"policy", "kind: auto", "kind: always", "spec fraud: policy.kind: \"always\""},
		{"canary weight", "{kind: auto, margin: 0.01}", "{kind: canary}", "spec fraud: policy.canary_weight: 0"},
		{"margin on manual", "kind: auto", "kind: manual", "spec fraud: policy.margin: only the auto policy"},
		{"schedule", "seed: 7", "seed: 7\ntriggers: {schedule: '61 * * * *'}", "spec fraud: triggers.schedule: cron \"61 * * * *\": minute:"},
		{"unknown field", "seed: 7", "seed: 7\nepochs: 3", "field epochs not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(valid, c.from, c.to, 1)
			if in == valid {
				t.Fatalf("replacement %q not in the spec", c.from)
			}
			_, err := trainspec.Parse([]byte(in))
			if !errors.Is(err, trainspec.ErrInvalid) {
				t.Fatalf("error %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestVersionIsContentHash(t *testing.T) {
	a, err := trainspec.Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	// The same content written differently.
	b, err := trainspec.Parse([]byte(strings.Replace(valid, `trainer: {runner: go, name: logistic, params: {c: "0.5"}}`, "trainer:\n  name: logistic\n  runner: go\n  params:\n    c: \"0.5\"", 1)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := trainspec.Parse([]byte(strings.Replace(valid, "seed: 7", "seed: 8", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if a.Version() != b.Version() || len(a.Version()) != 64 {
		t.Errorf("versions %s and %s of the same spec differ", a.Version(), b.Version())
	}
	if a.Version() == c.Version() {
		t.Error("a different seed has the same version")
	}
}

type views map[string][]string

func (v views) View(_ context.Context, name string) (model.FeatureView, bool, error) {
	f, ok := v[name]
	return model.FeatureView{Name: name, Version: "v-" + name, Features: f}, ok, nil
}

func TestCheckNamesUnknownFeatures(t *testing.T) {
	s, err := trainspec.Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	got, err := trainspec.Check(context.Background(), s, views{"txn": {"amount_sum_1h", "count_1h"}})
	if err != nil || got["txn"] != "v-txn" {
		t.Fatalf("check: %v %v", got, err)
	}
	for _, c := range []struct {
		views views
		want  string
	}{
		{views{}, `spec fraud: features[0]: "txn:amount_sum_1h": no feature view "txn" is applied`},
		{views{"txn": {"amount_sum_1h"}}, `spec fraud: features[1]: "txn:count_1h": view txn has no feature "count_1h"`},
	} {
		_, err := trainspec.Check(context.Background(), s, c.views)
		if !errors.Is(err, trainspec.ErrUnknownFeature) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want ErrUnknownFeature with %q", err, c.want)
		}
	}
}

func TestCronNext(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct{ expr, from, want string }{
		{"0 3 * * *", "2026-12-01T09:20:00Z", "2026-12-02T03:00:00Z"},
		{"*/15 * * * *", "2026-12-01T09:20:30Z", "2026-12-01T09:30:00Z"},
		{"30 9 1 * *", "2026-12-01T09:30:00Z", "2027-01-01T09:30:00Z"},
		{"0 0 * * 0", "2026-12-01T00:00:00Z", "2026-12-06T00:00:00Z"}, // next Sunday
		{"0 0 * * 7", "2026-12-01T00:00:00Z", "2026-12-06T00:00:00Z"},
		{"0 12 13 * 5", "2026-12-01T00:00:00Z", "2026-12-04T12:00:00Z"}, // Friday or the 13th
		{"0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"5-10/5 1,2 * * *", "2026-12-01T01:06:00Z", "2026-12-01T01:10:00Z"},
	} {
		c2, err := trainspec.ParseCron(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := c2.Next(at(c.from)); !got.Equal(at(c.want)) {
			t.Errorf("%s after %s: %s, want %s", c.expr, c.from, got.Format(time.RFC3339), c.want)
		}
	}
	for _, bad := range []string{"* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "x * * * *"} {
		if _, err := trainspec.ParseCron(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
