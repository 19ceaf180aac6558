package httpapi

// The hand-written JSON code of this package (scan.go: the batch check and
// split, fastdecode.go: the common structured event) measured against
// libraries doing the same work on the same input:
//
//	go test -run '^$' -bench 'Split|DecodeEvent' -benchmem ./internal/httpapi/
//
// encoding/json is the reference the fuzz tests compare with
// (FuzzScan, FuzzDecodeFast); the libraries are go-json-experiment's
// jsontext (the coming encoding/json/jsontext), valyala/fastjson and
// bytedance/sonic (SIMD on amd64). Each is asked for what this package
// needs: the events of a batch as sub-slices of the body, checked JSON
// (as encoding/json accepts it: duplicate names and bytes that are not
// UTF-8 inside strings allowed), and an event's attributes and raw data.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"
	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/valyala/fastjson"
)

// benchBatch is the body BenchmarkBatch and ingest-bench send: 100 events
// of about 1 KB.
func benchBatch() []byte {
	at := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC).Format(time.RFC3339Nano)
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"specversion":"1.0","id":"e-%d","source":"/bench","type":"com.example.bench.event.v1","time":"%s","datacontenttype":"application/json","data":{"user_id":"u-%d","item_id":"i-1","at":"%s","amount":3.5,"tags":["a","b"],"payload":"%s"}}`,
			i, at, i, at, strings.Repeat("x", 700))
	}
	sb.WriteByte(']')
	return []byte(sb.String())
}

// The splitters: the events of a batch as sub-slices of body, nil when
// body is not a valid JSON array.
var splitters = []struct {
	name  string
	split func(body []byte) [][]byte
}{
	{"own", func(body []byte) [][]byte { out, _ := scanArray(body); return out }},
	{"encoding-json", func(body []byte) [][]byte {
		var raws []json.RawMessage // copies each event
		if json.Unmarshal(body, &raws) != nil {
			return nil
		}
		out := make([][]byte, len(raws))
		for i, r := range raws {
			out[i] = r
		}
		return out
	}},
	{"jsontext", splitJSONText},
	{"fastjson", func(body []byte) [][]byte {
		// fastjson gives no positions: the closest it offers is a parse
		// into its tree, each event encoded again (a copy).
		var p fastjson.Parser
		v, err := p.ParseBytes(body)
		if err != nil {
			return nil
		}
		arr, err := v.Array()
		if err != nil {
			return nil
		}
		out := make([][]byte, len(arr))
		for i, e := range arr {
			out[i] = e.MarshalTo(nil)
		}
		return out
	}},
	{"fastjson-validate-only", func(body []byte) [][]byte {
		if fastjson.ValidateBytes(body) != nil {
			return nil
		}
		return [][]byte{body}
	}},
	{"sonic", func(body []byte) [][]byte {
		// sonic's lazy AST skips without checking: Valid first.
		if !sonic.Valid(body) {
			return nil
		}
		root := ast.NewRaw(unsafe.String(&body[0], len(body)))
		it, err := root.Values()
		if err != nil {
			return nil
		}
		out := make([][]byte, 0, 128)
		var n ast.Node
		for it.Next(&n) {
			raw, err := n.Raw()
			if err != nil {
				return nil
			}
			out = append(out, unsafe.Slice(unsafe.StringData(raw), len(raw)))
		}
		return out
	}},
	{"sonic-validate-only", func(body []byte) [][]byte {
		if !sonic.Valid(body) {
			return nil
		}
		return [][]byte{body}
	}},
}

func splitJSONText(body []byte) [][]byte {
	dec := jsontext.NewDecoder(bytes.NewBuffer(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '[' {
		return nil
	}
	out := make([][]byte, 0, 128)
	for dec.PeekKind() != ']' {
		v, err := dec.ReadValue()
		if err != nil {
			return nil
		}
		end := int(dec.InputOffset())
		out = append(out, body[end-len(v):end:end])
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil
	}
	return out
}

func BenchmarkSplit(b *testing.B) {
	body := benchBatch()
	for _, s := range splitters {
		b.Run(s.name, func(b *testing.B) {
			if got := s.split(body); len(got) != 100 && !strings.HasSuffix(s.name, "validate-only") {
				b.Fatalf("%d events", len(got))
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			loopCPU(b, func() { s.split(body) })
		})
	}
}

// TestSplitters: every splitter cuts the benchmark's batch into the same
// events (the benchmark measures the same work).
func TestSplitters(t *testing.T) {
	body := benchBatch()
	want, _ := scanArray(body)
	for _, s := range splitters {
		if strings.HasSuffix(s.name, "validate-only") {
			continue
		}
		got := s.split(body)
		if len(got) != len(want) {
			t.Fatalf("%s: %d events, want %d", s.name, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(bytes.TrimSpace(got[i]), want[i]) {
				t.Fatalf("%s: event %d differs", s.name, i)
			}
		}
	}
}

// attrs are what a decoder reads from a structured event; build makes the
// event of them as decodeFast does.
type attrs struct {
	specversion, id, source, typ, time, dct string
	data                                    []byte
}

func (a attrs) build() (ce.Event, bool) {
	var e ce.Event
	if a.specversion != ce.VersionV1 || a.id == "" || a.typ == "" {
		return e, false
	}
	c := &ce.EventContextV1{ID: a.id, Type: a.typ}
	u := types.ParseURIRef(a.source)
	if u == nil {
		return e, false
	}
	c.Source = *u
	if a.time != "" {
		t, err := types.ParseTimestamp(a.time)
		if err != nil {
			return e, false
		}
		c.Time = t
	}
	if a.dct != "" {
		c.DataContentType = &a.dct
	}
	e.Context, e.DataEncoded = c, a.data
	return e, true
}

func (a *attrs) set(name, v string) bool {
	switch name {
	case "specversion":
		a.specversion = v
	case "id":
		a.id = v
	case "source":
		a.source = v
	case "type":
		a.typ = v
	case "time":
		a.time = v
	case "datacontenttype":
		a.dct = v
	default:
		return false // extensions: not in the benchmark's events
	}
	return true
}

var batchMemo = sourceMemo{raw: "/bench/producer", uri: *types.ParseURIRef("/bench/producer"), formatted: "/bench/producer"}

var eventDecoders = []struct {
	name   string
	decode func(raw []byte) (ce.Event, bool)
}{
	{"own", func(raw []byte) (ce.Event, bool) {
		memo := batchMemo // one event of a batch: its source known from the one before
		e, source, ok := decodeFast(raw, &memo)
		if !ok || !validFast(e, source) {
			return ce.Event{}, false
		}
		return *e, true
	}},
	{"sdk-go", func(raw []byte) (ce.Event, bool) {
		var e ce.Event // what decodeFast replaced: it copies the data
		return e, json.Unmarshal(raw, &e) == nil
	}},
	{"jsontext", func(raw []byte) (ce.Event, bool) {
		var a attrs
		dec := jsontext.NewDecoder(bytes.NewBuffer(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
		if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
			return ce.Event{}, false
		}
		for dec.PeekKind() != '}' {
			tok, err := dec.ReadToken()
			if err != nil {
				return ce.Event{}, false
			}
			name := tok.String() // valid until the next read
			if name == "data" {
				v, err := dec.ReadValue()
				if err != nil {
					return ce.Event{}, false
				}
				end := int(dec.InputOffset())
				a.data = raw[end-len(v) : end : end]
				continue
			}
			tok, err = dec.ReadToken()
			if err != nil || tok.Kind() != '"' || !a.set(name, tok.String()) {
				return ce.Event{}, false
			}
		}
		return a.build()
	}},
	{"fastjson", func(raw []byte) (ce.Event, bool) {
		var p fastjson.Parser
		v, err := p.ParseBytes(raw)
		if err != nil {
			return ce.Event{}, false
		}
		o, err := v.Object()
		if err != nil {
			return ce.Event{}, false
		}
		var a attrs
		ok := true
		o.Visit(func(k []byte, v *fastjson.Value) {
			if string(k) == "data" {
				a.data = v.MarshalTo(nil) // no positions: encoded again
				return
			}
			s, err := v.StringBytes()
			ok = ok && err == nil && a.set(string(k), string(s))
		})
		if !ok {
			return ce.Event{}, false
		}
		return a.build()
	}},
	{"sonic", func(raw []byte) (ce.Event, bool) {
		var m struct {
			SpecVersion     string                 `json:"specversion"`
			ID              string                 `json:"id"`
			Source          string                 `json:"source"`
			Type            string                 `json:"type"`
			Time            string                 `json:"time"`
			DataContentType string                 `json:"datacontenttype"`
			Data            sonic.NoCopyRawMessage `json:"data"`
		}
		if sonic.Unmarshal(raw, &m) != nil {
			return ce.Event{}, false
		}
		return attrs{m.SpecVersion, m.ID, m.Source, m.Type, m.Time, m.DataContentType, m.Data}.build()
	}},
}

func BenchmarkDecodeEvent(b *testing.B) {
	events, _ := scanArray(benchBatch())
	for _, d := range eventDecoders {
		b.Run(d.name, func(b *testing.B) {
			if _, ok := d.decode(events[0]); !ok {
				b.Fatal("not decoded")
			}
			b.SetBytes(int64(len(events[0])))
			b.ReportAllocs()
			i := 0
			loopCPU(b, func() {
				d.decode(events[i%len(events)])
				i++
			})
		})
	}
}

// TestEventDecoders: every decoder of the benchmark makes the event
// decodeFast makes (the benchmark measures the same work).
func TestEventDecoders(t *testing.T) {
	events, _ := scanArray(benchBatch())
	for _, d := range eventDecoders {
		for i, raw := range events {
			want, _, _ := decodeFast(raw, nil)
			got, ok := d.decode(raw)
			if !ok || got.ID() != want.ID() || got.Source() != want.Source() || !got.Time().Equal(want.Time()) ||
				got.DataContentType() != want.DataContentType() || !bytes.Equal(bytes.TrimSpace(got.Data()), bytes.TrimSpace(want.Data())) {
				t.Fatalf("%s: event %d: got %v, want %v", d.name, i, got, want)
			}
		}
	}
}
