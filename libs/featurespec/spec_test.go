package featurespec_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/featurespec"
)

const base = `
entities: [{name: user}]
sources:
  - name: clicks
    stream: clicks
    entity_key: /user_id
    event_time: /clicked_at
    fields: {price: number, page: string, item_id: string, n: integer, ok: boolean}
views:
  - name: v
    entity: user
    source: clicks
    features:
`

func TestExample(t *testing.T) {
	b, err := os.ReadFile("../../schemas/features/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	views, err := featurespec.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 1 {
		t.Fatalf("%d views", len(views))
	}
	v := views[0]
	if len(v.Version) != 64 {
		t.Errorf("version %q", v.Version)
	}
	if _, _, ok := v.Feature("spend_7d"); !ok {
		t.Errorf("no spend_7d in %v", v.Names())
	}
	if f, _, _ := v.Feature("last_page"); f.Type != featurespec.ValueString || f.Window != 0 {
		t.Errorf("last_page: %+v", f)
	}
	if f, _, _ := v.Feature("clicks_5m"); f.Type != featurespec.ValueInt || time.Duration(f.Window) != 5*time.Minute {
		t.Errorf("clicks_5m: %+v", f)
	}
	if v.MaxWindow() != 7*24*time.Hour || time.Duration(v.TTL) != 30*24*time.Hour || time.Duration(v.Lateness) != time.Hour {
		t.Errorf("max window %v ttl %v lateness %v", v.MaxWindow(), v.TTL, v.Lateness)
	}
	// The canonical form decodes to the same view with the same version.
	c, err := v.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	back, err := featurespec.DecodeView(c)
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != v.Version || len(back.Features) != len(v.Features) {
		t.Errorf("round trip changed the view: %s vs %s", back.Version, v.Version)
	}
	// Tampering is detected.
	bad := strings.Replace(string(c), `"spend_7d"`, `"spend_8d"`, 1)
	if _, err := featurespec.DecodeView([]byte(bad)); !errors.Is(err, featurespec.ErrInvalid) {
		t.Errorf("tampered view decoded: %v", err)
	}
}

func TestVersionIsContentHash(t *testing.T) {
	a, err := featurespec.Parse([]byte(base + "      - {name: c, agg: count, windows: [1h]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := featurespec.Parse([]byte("# a comment changes nothing\n" + base + "      - {name: c, agg: count, windows: [60m]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := featurespec.Parse([]byte(base + "      - {name: c, agg: count, windows: [2h]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a[0].Version != b[0].Version {
		t.Errorf("same content, versions %s and %s", a[0].Version, b[0].Version)
	}
	if a[0].Version == c[0].Version {
		t.Errorf("different windows, same version")
	}
}

func TestInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, features, want string
	}{
		{"unknown field", "      - {name: s, agg: sum, field: nope, windows: [1h]}", `views[0].features[0].field: unknown field "nope"`},
		{"sum of string", "      - {name: s, agg: sum, field: page, windows: [1h]}", `needs a number or integer field, "page" is string`},
		{"bad window", "      - {name: c, agg: count, windows: [1x]}", `"1x" is not a duration`},
		{"short window", "      - {name: c, agg: count, windows: [5s]}", "windows[0]: 5s is shorter than 10s"},
		{"window not multiple", "      - {name: c, agg: count, windows: [15s]}", "not a whole multiple of 10s"},
		{"no window", "      - {name: c, agg: count}", "needs at least one window"},
		{"latest with window", "      - {name: l, agg: latest, field: page, windows: [1h]}", "latest takes no window"},
		{"duplicate", "      - {name: c, agg: count, windows: [1h]}\n      - {name: c, agg: count, windows: [1h]}", `feature "c_1h" is defined twice`},
		{"duplicate after expansion", "      - {name: c_1h, agg: latest, field: page}\n      - {name: c, agg: count, windows: [1h]}", `feature "c_1h" is defined twice`},
		{"unknown agg", "      - {name: c, agg: median, field: price, windows: [1h]}", `unknown aggregation "median"`},
		{"missing field", "      - {name: c, agg: max, windows: [1h]}", "aggregation max needs a field"},
		{"bad name", "      - {name: Clicks, agg: count, windows: [1h]}", `"Clicks" is not a name`},
		{"filter type", "      - {name: c, agg: count, windows: [1h], filter: {field: page, op: eq, value: 3}}", `filter.value: 3 is a number, field "page" is string`},
		{"filter op", "      - {name: c, agg: count, windows: [1h], filter: {field: page, op: like, value: x}}", `unknown operator "like"`},
		{"filter gt string", "      - {name: c, agg: count, windows: [1h], filter: {field: page, op: gt, value: x}}", "op gt needs a number or integer field"},
		{"filter in without values", "      - {name: c, agg: count, windows: [1h], filter: {field: page, op: in, value: x}}", "op in needs values"},
		{"filter unknown field", "      - {name: c, agg: count, windows: [1h], filter: {field: zz, op: eq, value: x}}", `filter.field: unknown field "zz"`},
		{"unknown key", "      - {name: c, agg: count, windows: [1h], colour: red}", "field colour not found"},
		{"ttl shorter than window", "      - {name: c, agg: count, windows: [30d]}", "ttl: 7d is shorter than the longest window 30d"},
		{"no features", "", "views[0].features: no feature defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := featurespec.Parse([]byte(base + tc.features + "\n"))
			if !errors.Is(err, featurespec.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestInvalidFile(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"empty", "", "empty file"},
		{"not yaml", "views: [", "yaml"},
		{"two documents", base + "      - {name: c, agg: count, windows: [1h]}\n---\nviews: []\n", "more than one YAML document"},
		{"unknown entity", strings.Replace(base, "entity: user", "entity: item", 1) + "      - {name: c, agg: count, windows: [1h]}\n", `views[0].entity: unknown entity "item"`},
		{"unknown source", strings.Replace(base, "source: clicks", "source: orders", 1) + "      - {name: c, agg: count, windows: [1h]}\n", `views[0].source: unknown source "orders"`},
		{"bad pointer", strings.Replace(base, "entity_key: /user_id", "entity_key: user_id", 1) + "      - {name: c, agg: count, windows: [1h]}\n", "sources[0].entity_key"},
		{"bad field type", strings.Replace(base, "ok: boolean", "ok: date", 1) + "      - {name: c, agg: count, windows: [1h]}\n", `sources[0].fields.ok: type "date"`},
		{"no views", "entities: [{name: user}]\n", "views: no view defined"},
		{"duplicate view", base + "      - {name: c, agg: count, windows: [1h]}\n  - {name: v, entity: user, source: clicks, features: [{name: c, agg: count, windows: [1h]}]}\n", `duplicate view "v"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := featurespec.Parse([]byte(tc.doc))
			if !errors.Is(err, featurespec.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"5m": 5 * time.Minute, "7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "90s": 90 * time.Second, "1h30m": 90 * time.Minute} {
		d, err := featurespec.ParseDuration(in)
		if err != nil || time.Duration(d) != want {
			t.Errorf("%s: %v %v", in, d, err)
		}
	}
	for _, in := range []string{"", "d", "-1d", "1y", "x7d"} {
		if _, err := featurespec.ParseDuration(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
	if s := featurespec.Duration(36 * time.Hour).String(); s != "36h" {
		t.Errorf("36h prints %s", s)
	}
}

func TestCheckStream(t *testing.T) {
	b, err := os.ReadFile("../../schemas/features/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	views, err := featurespec.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	clicks := featurespec.StreamInfo{Name: "clicks", EntityKey: "/user_id", EventTime: "/clicked_at", Schema: []byte(`{"type":"object","properties":{
		"user_id":{"type":"string"},"item_id":{"type":"string"},"clicked_at":{"type":"string"},"price":{"type":"number"},"page":{"type":"string","enum":["home","cart"]}}}`)}
	if err := featurespec.CheckStream(views[0], clicks); err != nil {
		t.Fatalf("example against the clicks stream: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*featurespec.StreamInfo)
		want string
	}{
		{"other key", func(s *featurespec.StreamInfo) { s.EntityKey = "/item_id" }, `keyed by "/item_id"`},
		{"other time", func(s *featurespec.StreamInfo) { s.EventTime = "" }, `event_time "/clicked_at", stream clicks uses ""`},
		{"missing field", func(s *featurespec.StreamInfo) {
			s.Schema = []byte(`{"properties":{"item_id":{"type":"string"},"page":{"type":"string"}}}`)
		}, "fields.price: unknown field"},
		{"wrong type", func(s *featurespec.StreamInfo) {
			s.Schema = []byte(`{"properties":{"item_id":{"type":"string"},"page":{"type":"string"},"price":{"type":"string"}}}`)
		}, "fields.price: declared number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := clicks
			tc.edit(&s)
			if err := featurespec.CheckStream(views[0], s); !errors.Is(err, featurespec.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
