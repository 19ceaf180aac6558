package datacheck_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/bytedance/sonic"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/valyala/fastjson"

	"github.com/tributary-ml/tributary/services/ingest/internal/datacheck"
)

// BenchmarkCheck is one event's data of the benchmark (about 850 bytes)
// checked against the bench stream: the compiled check, the library
// (streamspec's Check: jsondoc's document, then santhosh-tekuri/jsonschema),
// and — for scale, checking no schema at all — reading the same bytes with
// jsontext's tokenizer, fastjson's validator and sonic's.
//
//	go test -run '^$' -bench Check -benchmem ./internal/datacheck/
func BenchmarkCheck(b *testing.B) {
	s := streams(b)["bench"]
	c := datacheck.New(s)
	data := []byte(`{"user_id":"user-42","item_id":"item-7","at":"2026-12-01T10:00:00.123456789Z","amount":42.5,"tags":["a","b","c"],"payload":"` + strings.Repeat("x", 700) + `"}`)
	if _, ok := c.Fast(data); !ok {
		b.Fatal("not decided by the compiled check")
	}
	for _, bc := range []struct {
		name string
		run  func() bool
	}{
		{"compiled", func() bool { _, ok := c.Fast(data); return ok }},
		{"compiled-of-valid-json", func() bool { _, err := c.CheckValidJSON(data); return err == nil }},
		{"library", func() bool { _, err := s.Check(data); return err == nil }},
		{"jsontext-tokens-only", func() bool {
			dec := jsontext.NewDecoder(bytes.NewBuffer(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
			for {
				if _, err := dec.ReadToken(); err != nil {
					return err == io.EOF
				}
			}
		}},
		{"fastjson-validate-only", func() bool { return fastjson.ValidateBytes(data) == nil }},
		{"sonic-validate-only", func() bool { return sonic.Valid(data) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if !bc.run() {
				b.Fatal("invalid")
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			loopCPU(b, func() { bc.run() })
		})
	}
}
