package event_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"github.com/tributary-ml/tributary/libs/event"
)

func TestToNATSMsgHeaders(t *testing.T) {
	e := fullEvent(t, "evt 1")
	msg, err := event.ToNATSMsg(e, "tributary.model.registered")
	if err != nil {
		t.Fatalf("ToNATSMsg: %v", err)
	}
	want := nats.Header{
		"ce-specversion":     {"1.0"},
		"ce-id":              {"evt%201"},
		"ce-source":          {"/tributary/ingest/test"},
		"ce-type":            {"tributary.model.registered.v1"},
		"ce-subject":         {"fraud%20v8%20%E2%80%94%20%C3%BCn%C3%AFc%C3%B6d%C3%A9%20and%20spaces"},
		"ce-dataschema":      {"https://tributary-ml.github.io/tributary/schemas/events/tributary.model.registered.v1.json"},
		"ce-time":            {"2026-11-26T09:15:30.123456789Z"},
		"ce-datacontenttype": {"application/json"},
		"Content-Type":       {"application/json"},
		"ce-partitionkey":    {"card-4711"},
		"ce-count":           {"-42"},
		"ce-flag":            {"true"},
		"ce-blob":            {"AAEC/w=="},
		"ce-link":            {"https://example.com/a?b=c"},
		"ce-when":            {"2026-01-02T03:04:05.0000006Z"},
		"ce-traceparent":     {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	if len(msg.Header) != len(want) {
		t.Errorf("%d headers, want %d: %v", len(msg.Header), len(want), msg.Header)
	}
	for k, v := range want {
		if got := msg.Header.Values(k); len(got) != 1 || got[0] != v[0] {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if msg.Subject != "tributary.model.registered" {
		t.Errorf("subject %q", msg.Subject)
	}
	if string(msg.Data) != `{"model":"fraud","version":8}` {
		t.Errorf("data %q", msg.Data)
	}
}

func TestNATSRoundTrip(t *testing.T) {
	binaryData := minimalEvent("bin")
	if err := binaryData.SetData("application/octet-stream", []byte{0, 0xff, '\r', '\n', 0x80}); err != nil {
		t.Fatal(err)
	}
	quoted := minimalEvent(`"quoted" 100% `)
	quoted.SetExtension("note", "tab\there\r\nnewline \x7f del, ok")
	emptyData := minimalEvent("empty")
	emptyData.SetDataContentType("application/json")
	text := minimalEvent("text")
	if err := text.SetData("text/plain; charset=utf-8", []byte("hello, world")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		e    ce.Event
	}{
		{name: "text data", e: text},
		{name: "all attributes and extensions", e: fullEvent(t, "full")},
		{name: "required attributes only", e: minimalEvent("min")},
		{name: "binary data", e: binaryData},
		{name: "characters that must be escaped", e: quoted},
		{name: "content type without data", e: emptyData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := event.ToNATSMsg(tt.e, "s")
			if err != nil {
				t.Fatalf("ToNATSMsg: %v", err)
			}
			for k, vs := range msg.Header {
				if k == "Content-Type" {
					continue // an ordinary header, not percent-encoded
				}
				for _, v := range vs {
					for _, c := range []byte(v) {
						if c <= ' ' || c >= 0x7f || c == '"' {
							t.Errorf("header %s value %q has byte %#x, which the binding says to percent-encode", k, v, c)
						}
					}
				}
			}
			if got, want := msg.Header.Get("Content-Type"), tt.e.DataContentType(); got != want {
				t.Errorf("Content-Type %q, want datacontenttype %q as is", got, want)
			}
			if len(tt.e.Data()) == 0 && msg.Data != nil {
				t.Errorf("data %q, want none", msg.Data)
			}
			got, err := event.FromNATSMsg(msg)
			if err != nil {
				t.Fatalf("FromNATSMsg: %v", err)
			}
			assertSameEvent(t, &tt.e, got)
		})
	}
}

func TestFromNATSMsgModes(t *testing.T) {
	e := fullEvent(t, "structured")
	body, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	base := func() nats.Header {
		return nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"/s"}, "ce-type": {"t"}}
	}
	withData := func(ct string) ce.Event {
		e := minimalEvent("1")
		if err := e.SetData(ct, []byte(`{"a":1}`)); err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name string
		msg  *nats.Msg
		want ce.Event
	}{
		{name: "structured by content type", msg: &nats.Msg{Header: nats.Header{"Content-Type": {"application/cloudevents+json; charset=utf-8"}}, Data: body}, want: e},
		{name: "structured without headers (sdk-go nats sender)", msg: &nats.Msg{Data: body}, want: e},
		{
			name: "content-type when ce-datacontenttype is absent",
			msg:  &nats.Msg{Header: func() nats.Header { h := base(); h.Set("Content-Type", "application/json"); return h }(), Data: []byte(`{"a":1}`)},
			want: withData("application/json"),
		},
		{
			name: "ce-datacontenttype wins over content-type",
			msg: &nats.Msg{Header: func() nats.Header {
				h := base()
				h.Set("content-type", "text/plain")
				h.Set("ce-datacontenttype", "application/json")
				return h
			}(), Data: []byte(`{"a":1}`)},
			want: withData("application/json"),
		},
		{
			name: "header names in any case, foreign headers, quoted and lower-case escapes",
			msg: &nats.Msg{Header: nats.Header{
				"Ce-Specversion": {"1.0"}, "CE-ID": {`"1"`}, "ce-source": {"%2fs"}, "ce-type": {"t"},
				"Nats-Msg-Id": {"abc"}, "traceparent": {"00-x"},
			}},
			want: minimalEvent("1"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := event.FromNATSMsg(tt.msg)
			if err != nil {
				t.Fatalf("FromNATSMsg: %v", err)
			}
			assertSameEvent(t, &tt.want, got)
		})
	}
}

func TestFromNATSMsgErrors(t *testing.T) {
	base := func(kv ...string) nats.Header {
		h := nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"/s"}, "ce-type": {"t"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	without := func(name string) nats.Header {
		h := base()
		h.Del(name)
		return h
	}
	tests := []struct {
		name     string
		msg      *nats.Msg
		want     error
		contains string
	}{
		{name: "nothing", msg: &nats.Msg{Data: []byte("hello")}, want: event.ErrNotCloudEvent},
		{name: "bare json that is no event", msg: &nats.Msg{Data: []byte(`{"hello":"world"}`)}, want: event.ErrNotCloudEvent},
		{name: "json with a plain content type", msg: &nats.Msg{Header: nats.Header{"Content-Type": {"application/json"}}, Data: []byte(`{}`)}, want: event.ErrNotCloudEvent},
		{name: "unknown event format", msg: &nats.Msg{Header: nats.Header{"Content-Type": {"application/cloudevents+protobuf"}}}, want: event.ErrNotCloudEvent},
		{name: "specversion 0.3", msg: &nats.Msg{Header: nats.Header{"ce-specversion": {"0.3"}}}, want: event.ErrUnsupportedSpecVersion},
		{name: "missing id", msg: &nats.Msg{Header: without("ce-id")}, want: event.ErrInvalidEvent, contains: "id"},
		{name: "missing source", msg: &nats.Msg{Header: without("ce-source")}, want: event.ErrInvalidEvent, contains: "source"},
		{name: "missing type", msg: &nats.Msg{Header: without("ce-type")}, want: event.ErrInvalidEvent, contains: "type"},
		{name: "two values", msg: &nats.Msg{Header: base("ce-id", "2")}, want: event.ErrInvalidEvent, contains: "2 values"},
		{name: "conflicting case variants", msg: &nats.Msg{Header: base("CE-ID", "2")}, want: event.ErrInvalidEvent, contains: "conflicting"},
		{name: "bad percent-encoding", msg: &nats.Msg{Header: base("ce-subject", "a%zz")}, want: event.ErrInvalidEvent, contains: "ce-subject"},
		{name: "truncated percent-encoding", msg: &nats.Msg{Header: base("ce-subject", "a%2")}, want: event.ErrInvalidEvent, contains: "truncated"},
		{name: "overlong utf-8", msg: &nats.Msg{Header: base("ce-subject", "%C0%A0")}, want: event.ErrInvalidEvent, contains: "utf-8"},
		{name: "bad time", msg: &nats.Msg{Header: base("ce-time", "2026-13-01T00:00:00Z")}, want: event.ErrInvalidEvent, contains: "time"},
		{name: "time beyond year 9999", msg: &nats.Msg{Header: base("ce-time", "9999-12-31T23:00:00-02:00")}, want: event.ErrInvalidEvent, contains: "year"},
		{name: "bad extension name", msg: &nats.Msg{Header: base("ce-my_ext", "x")}, want: event.ErrInvalidEvent, contains: "ce-my_ext"},
		{name: "structured, missing source", msg: &nats.Msg{Header: nats.Header{"Content-Type": {"application/cloudevents+json"}}, Data: []byte(`{"specversion":"1.0","id":"1","type":"t"}`)}, want: event.ErrInvalidEvent, contains: "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := event.FromNATSMsg(tt.msg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("FromNATSMsg = %v, %v; want error %v", got, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not mention %q", err, tt.contains)
			}
		})
	}
}

func TestToNATSMsgRejects(t *testing.T) {
	if _, err := event.ToNATSMsg(minimalEvent("1"), ""); err == nil {
		t.Error("empty subject accepted")
	}
	e := minimalEvent("1")
	e.SetExtension("raw", "\xff")
	if _, err := event.ToNATSMsg(e, "s"); !errors.Is(err, event.ErrInvalidEvent) {
		t.Errorf("extension that is not utf-8: error %v, want %v", err, event.ErrInvalidEvent)
	}
}
