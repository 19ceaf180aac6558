package event_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// canonicalEvent is an event as the wire sees it: every attribute and
// extension in its canonical string form, and the data bytes.
type canonicalEvent struct {
	Attrs map[string]string
	Data  []byte
}

func canonical(t testing.TB, e *ce.Event) canonicalEvent {
	t.Helper()
	c := canonicalEvent{Attrs: map[string]string{
		"specversion":     e.SpecVersion(),
		"id":              e.ID(),
		"source":          e.Source(),
		"type":            e.Type(),
		"datacontenttype": e.DataContentType(),
		"dataschema":      e.DataSchema(),
		"subject":         e.Subject(),
	}}
	if tm := e.Time(); !tm.IsZero() {
		c.Attrs["time"] = types.FormatTime(tm)
	}
	for name, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			t.Fatalf("extension %s: %v", name, err)
		}
		c.Attrs["ext:"+name] = s
	}
	if len(e.Data()) > 0 {
		c.Data = e.Data()
	}
	return c
}

func (c canonicalEvent) String() string {
	keys := slices.Sorted(maps.Keys(c.Attrs))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q ", k, c.Attrs[k])
	}
	fmt.Fprintf(&b, "data=%q", c.Data)
	return b.String()
}

func (c canonicalEvent) equal(o canonicalEvent) bool {
	return maps.Equal(c.Attrs, o.Attrs) && bytes.Equal(c.Data, o.Data)
}

// assertSameEvent fails unless got is want on the wire: the same attributes,
// extensions (as canonical strings; binary mode does not carry their types),
// time to the nanosecond, and data.
func assertSameEvent(t testing.TB, want, got *ce.Event) {
	t.Helper()
	cw, cg := canonical(t, want), canonical(t, got)
	if !cw.equal(cg) {
		t.Errorf("events differ:\n got %s\nwant %s", cg, cw)
	}
	if !want.Time().Equal(got.Time()) {
		t.Errorf("time: got %v, want %v", got.Time(), want.Time())
	}
}

// fullEvent returns an event with every attribute set and extensions of
// every CloudEvents type.
func fullEvent(t testing.TB, id string) ce.Event {
	t.Helper()
	e := ce.New()
	e.SetID(id)
	e.SetSource("/tributary/ingest/test")
	e.SetType("tributary.model.registered.v1")
	e.SetSubject("fraud v8 — ünïcödé and spaces")
	e.SetDataSchema("https://tributary-ml.github.io/tributary/schemas/events/tributary.model.registered.v1.json")
	e.SetTime(time.Date(2026, 11, 26, 10, 15, 30, 123456789, time.FixedZone("CET", 3600)))
	u, err := url.Parse("https://example.com/a?b=c")
	if err != nil {
		t.Fatal(err)
	}
	exts := map[string]any{
		"partitionkey": "card-4711",
		"count":        int32(-42),
		"flag":         true,
		"blob":         []byte{0, 1, 2, 0xff},
		"link":         u,
		"when":         time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC),
		"traceparent":  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	for name, v := range exts {
		if err := e.Context.SetExtension(name, v); err != nil {
			t.Fatalf("extension %s: %v", name, err)
		}
	}
	if err := e.SetData(ce.ApplicationJSON, []byte(`{"model":"fraud","version":8}`)); err != nil {
		t.Fatal(err)
	}
	return e
}

// minimalEvent returns an event with the required attributes only.
func minimalEvent(id string) ce.Event {
	e := ce.New()
	e.SetID(id)
	e.SetSource("/s")
	e.SetType("t")
	return e
}

func headerMap(hs []kgo.RecordHeader) map[string]string {
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		m[h.Key] = string(h.Value)
	}
	return m
}

// Fuzz inputs carry headers as "name:value" lines.

func kafkaHeaderLines(hs []kgo.RecordHeader) []byte {
	lines := make([]string, len(hs))
	for i, h := range hs {
		lines[i] = h.Key + ":" + string(h.Value)
	}
	return []byte(strings.Join(lines, "\n"))
}

func natsHeaderLines(h nats.Header) []byte {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			lines = append(lines, k+":"+v)
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

func parseHeaderLines(b []byte) [][2]string {
	if len(b) == 0 {
		return nil
	}
	var out [][2]string
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		k, v, _ := bytes.Cut(line, []byte{':'})
		out = append(out, [2]string{string(k), string(v)})
	}
	return out
}
