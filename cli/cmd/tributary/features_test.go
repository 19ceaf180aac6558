package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestFeaturesCommand(t *testing.T) {
	ctx := context.Background()
	srv := runNATS(t, true)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "tributary_features"})
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "tributary_schemas"})
	if err != nil {
		t.Fatal(err)
	}
	clicks, err := os.ReadFile("../../../schemas/streams/clicks.json")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../../../schemas/features/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "shop.yaml")
	changed := filepath.Join(dir, "shop2.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	wrongKey := filepath.Join(dir, "wrongkey.yaml")
	os.WriteFile(wrongKey, bytes.Replace(example, []byte("entity_key: /user_id"), []byte("entity_key: /item_id"), 1), 0o600)
	os.WriteFile(good, example, 0o600)
	os.WriteFile(changed, bytes.Replace(example, []byte("windows: [5m, 1h, 1d, 7d]"), []byte("windows: [5m, 1h]"), 1), 0o600)
	os.WriteFile(bad, bytes.Replace(example, []byte("field: price"), []byte("field: prize"), 1), 0o600)
	runCmd := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"features", "-nats.url", srv.ClientURL()}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"apply", bad}, 1, `unknown field "prize"`},
		{[]string{"apply", good}, 0, "view user_clicks created"},
		{[]string{"apply", wrongKey}, 0, "stream clicks is not in bucket tributary_schemas: its fields are not checked"},
		{[]string{"apply", good}, 0, "view user_clicks updated"},
		{[]string{"apply", good}, 0, "view user_clicks unchanged"},
		{[]string{"put-stream"}, 0, ""},
		{[]string{"apply", wrongKey}, 1, `keyed by "/user_id"`},
		{[]string{"apply", good, good}, 1, "also defined in"},
		{[]string{"apply", changed}, 0, "view user_clicks updated"},
		{[]string{"list"}, 0, "user_clicks"},
		{[]string{"list", "-o", "json"}, 0, `"view": "user_clicks",`},
		{[]string{"apply"}, 1, "missing FILE"},
		{[]string{"frobnicate"}, 1, "unknown action"},
		{[]string{"-bucket", "nope", "list"}, 1, "bucket nope"},
	} {
		if tc.args[0] == "put-stream" {
			if _, err := schemas.Put(ctx, "clicks", clicks); err != nil {
				t.Fatal(err)
			}
			continue
		}
		code, out, errOut := runCmd(tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.out) {
			t.Errorf("%v: exit %d, output %q %q; want %d containing %q", tc.args, code, out, errOut, tc.code, tc.out)
		}
	}
	e, err := kv.Get(ctx, "view.user_clicks")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(e.Value(), []byte(`"clicks_5m"`)) || bytes.Contains(e.Value(), []byte(`"clicks_7d"`)) {
		t.Errorf("stored view is not the changed one: %s", e.Value())
	}
}

func TestDatasetsFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing action"},
		{[]string{"build"}, "-features: missing"},
		{[]string{"build", "-features", "v:f"}, "-labels: missing"},
		{[]string{"build", "-features", "v:f", "-labels", "l", "-start", "x", "-end", "y", "-timeout", "0s"}, "-timeout"},
	} {
		var errOut bytes.Buffer
		_, err := parseDatasetsFlags(tc.args, func(string) (string, bool) { return "", false }, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"datasets", "build", "-features", "v:f", "-labels", "l", "-start", "2026-01-02T00:00:00Z", "-end", "2026-01-01T00:00:00Z"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "-end: must be after -start") {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
}
