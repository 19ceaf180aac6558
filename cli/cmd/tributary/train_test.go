package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/trainspec"
)

const cliSpec = `
model: shop_buyer
features: [user_clicks:clicks_1h, user_clicks:spend_1d]
labels: bought
task: binary
trainer: {runner: go, name: logistic}
seed: 1
window: 7d
holdout: 0.2
metric: auc
policy: {kind: auto, margin: 0.01}
`

func TestModelsApplyAndTrain(t *testing.T) {
	ctx := context.Background()
	srv := runNATS(t, true)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	features, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "tributary_features"})
	if err != nil {
		t.Fatal(err)
	}
	jobsKV, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "tributary_jobs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TRIBUTARY", Subjects: []string{"tributary.train.>"}}); err != nil {
		t.Fatal(err)
	}
	shop, err := os.ReadFile("../../../schemas/features/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	views, err := featurespec.Parse(shop)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := featurespec.Apply(ctx, features, views, time.Now()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	unknown := filepath.Join(dir, "unknown.yaml")
	invalid := filepath.Join(dir, "invalid.yaml")
	os.WriteFile(good, []byte(cliSpec), 0o600)
	os.WriteFile(unknown, []byte(strings.Replace(cliSpec, "spend_1d", "spend_2d", 1)), 0o600)
	os.WriteFile(invalid, []byte(strings.Replace(cliSpec, "holdout: 0.2", "holdout: 0", 1)), 0o600)
	runCmd := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		var full []string
		if args[0] == "models" {
			full = append([]string{"models", "apply", "-nats.url", srv.ClientURL()}, args[2:]...)
		} else {
			full = append([]string{"train", "-nats.url", srv.ClientURL()}, args[2:]...)
		}
		code := run(ctx, full, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"models", "apply", invalid}, 1, "spec shop_buyer: holdout: 0: want the newest fraction"},
		{[]string{"models", "apply", unknown}, 1, `features[1]: "user_clicks:spend_2d": view user_clicks has no feature "spend_2d"`},
		{[]string{"models", "apply", good}, 0, "model shop_buyer: created"},
		{[]string{"models", "apply", good}, 0, "model shop_buyer: unchanged"},
	} {
		code, out, errOut := runCmd(tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.out) {
			t.Errorf("%v: code %d, output %q %q; want %d and %q", tc.args, code, out, errOut, tc.code, tc.out)
		}
	}
	st, err := trainspec.Load(ctx, jobsKV, "shop_buyer")
	if err != nil || st.Spec.Features[1] != "user_clicks:spend_1d" || len(st.Version) != 64 {
		t.Fatalf("stored spec %+v %v", st, err)
	}
	if _, err := trainspec.Load(ctx, jobsKV, "nope"); err == nil {
		t.Fatal("a refused spec was stored")
	}

	// train publishes the request with the job id as the event id.
	sub, err := nc.SubscribeSync("tributary.train.requested")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd("train", "x", "-job-id", "j-123", "-reason", "because", "-param", "c=0.5", "shop_buyer")
	if code != 0 || !strings.Contains(out, "job j-123 requested for model shop_buyer") {
		t.Fatalf("train: %d %q %q", code, out, errOut)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	e, err := event.FromNATSMsg(m)
	if err != nil {
		t.Fatal(err)
	}
	var req event.TrainRequested
	if err := json.Unmarshal(e.Data(), &req); err != nil || e.ID() != "j-123" || e.Type() != event.TypeTrainRequested {
		t.Fatalf("event %v %v", e, err)
	}
	if req.JobID != "j-123" || req.Model != "shop_buyer" || req.Trigger != event.TriggerManual || req.Reason != "because" || req.Params["c"] != "0.5" {
		t.Errorf("request %+v", req)
	}
}
