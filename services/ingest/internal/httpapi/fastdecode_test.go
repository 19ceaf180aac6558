package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/tributary-ml/tributary/libs/jsondoc"
)

var fastSeeds = []string{
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"2026-11-26T10:00:00.123+01:00","datacontenttype":"application/json","data":{"a":[1,2.5,"x"]}}`,
	`{"data":{"a":1},"type":"t","id":"1","source":"https://example.com/a?b=c#d","specversion":"1.0","myext":"v","partitionkey":"k"}`,
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"hello"}`,
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json; charset=utf-8","data":"x"}`,
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAE="}`,
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"","data":null}`,
	`{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}`,
	`{"specversion":"0.3","id":"1","source":"/s","type":"t"}`,
	`{"specversion":"1.0","id":"\u00e9","source":"::","type":"t","time":"nope","Ext":"1","n":1}`,
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","dataschema":"x","data":[1]}`,
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"2026-11-26T10:00:00Z","tracestate":"","datacontenttype":"application/cloudevents+json","data":1e3}`,
	`{}`, `[]`, `1`,
	// The hardening issue's inputs, which decodeFast leaves to event.DecodeStructured.
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","x":"1","x":"2"}`,
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","MyExt":"x","myext":"y"}`,
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64": "AAE="}`,
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"p":1e1000000000,"p":2}}`,
}

// FuzzDecodeFast checks that decodeFast, where it decodes an event, makes
// exactly the event sdk-go's UnmarshalJSON makes of the same bytes.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkFast(t, raw)
	})
}

func checkFast(t *testing.T, raw []byte) bool {
	t.Helper()
	if !json.Valid(raw) {
		return false
	}
	fast, source, ok := decodeFast(raw, nil)
	if !ok {
		return false
	}
	// With the memory of a batch's source: the same event, whether it
	// holds this event's source (decoded again) or another's.
	var memo sourceMemo
	for range 2 {
		again, againSource, ok := decodeFast(raw, &memo)
		if !ok || againSource != source || !reflect.DeepEqual(*again, *fast) {
			t.Fatalf("decodeFast(%s) with the memo of %q: %v %q, without: %v %q", raw, memo.raw, again, againSource, fast, source)
		}
	}
	other := sourceMemo{raw: "/other", uri: *types.ParseURIRef("/other"), formatted: "/other"}
	if again, againSource, ok := decodeFast(raw, &other); !ok || againSource != source || !reflect.DeepEqual(*again, *fast) {
		t.Fatalf("decodeFast(%s) with the memo of another source: %v %q, without: %v %q", raw, again, againSource, fast, source)
	}
	got := *fast
	var want ce.Event
	if err := want.UnmarshalJSON(raw); err != nil {
		// The one difference: sdk-go refuses data with a number float64
		// cannot hold; decodeFast leaves the data to the stream's check,
		// which refuses it with its own reason (number_out_of_range).
		if _, derr := jsondoc.Parse(got.DataEncoded); errors.Is(derr, jsondoc.ErrNumberRange) {
			return true
		}
		t.Fatalf("decodeFast(%s) = %v, sdk-go: %v", raw, got, err)
	}
	if source != want.Source() {
		t.Fatalf("decodeFast(%s) source %q, sdk-go %q", raw, source, want.Source())
	}
	if valid, err := validFast(fast, source), want.Validate(); valid != (err == nil) {
		t.Fatalf("decodeFast(%s): validFast %v, sdk-go's Validate: %v", raw, valid, err)
	}
	if !bytes.Equal(got.DataEncoded, want.DataEncoded) || (got.DataEncoded == nil) != (want.DataEncoded == nil) {
		t.Fatalf("decodeFast(%s) data %q, sdk-go %q", raw, got.DataEncoded, want.DataEncoded)
	}
	got.DataEncoded, want.DataEncoded = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeFast(%s):\n%#v\nsdk-go:\n%#v", raw, got.Context, want.Context)
	}
	return true
}

// TestDecodeFastEqualsSDK compares decodeFast with sdk-go's decoder on
// generated events: members in any order, optional attributes, extensions,
// odd values. It must decode most of them itself.
func TestDecodeFastEqualsSDK(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pick := func(options ...string) string { return options[r.IntN(len(options))] }
	fast := 0
	const n = 20000
	for range n {
		members := []string{
			`"specversion":` + pick(`"1.0"`, `"1.0"`, `"1.0"`, `"0.3"`, `1`),
			`"id":` + pick(`"e-1"`, `"e 2"`, `""`, `"\u00e9"`, `" "`),
			`"source":` + pick(`"/bench/producer"`, `"https://example.com/a?b=c#d"`, `"urn:x"`, `"/a%20b"`, `"::"`, `"%zz"`, `" "`, `" /s "`),
			`"type":` + pick(`"com.example.t.v1"`, `"t"`, `"  "`),
		}
		if r.IntN(2) == 0 {
			members = append(members, `"time":`+pick(`"2026-11-26T10:00:00Z"`, `"2026-11-26T10:00:00.123456789+05:30"`, `"2026-11-26"`, `"10000-01-01T00:00:00Z"`))
		}
		if r.IntN(2) == 0 {
			members = append(members, `"subject":`+pick(`"s"`, `""`, `null`, `" "`))
		}
		if r.IntN(3) > 0 {
			members = append(members, `"datacontenttype":`+pick(`"application/json"`, `"application/json; charset=utf-8"`, `"text/json"`, `"application/x+json"`, `"text/plain"`, `""`, `" "`, `"a/b; x"`, `" application/json "`, `"application/json;"`))
		}
		if r.IntN(4) > 0 {
			members = append(members, `"data":`+pick(`{"user_id":"u-1","at":"2026-11-26T10:00:00Z","tags":["a"],"n":1.5}`, `"str"`, `[1, 2]`, `null`, `true`, ` 12 `))
		}
		for range r.IntN(3) {
			members = append(members, fmt.Sprintf(`"%s":%s`, pick("partitionkey", "traceparent", "myext", "ext2", "Upper", "bad_name", "dataschema"), pick(`"v"`, `""`, `1`, `true`, `"x y"`)))
		}
		r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		raw := []byte("{" + strings.Join(members, pick(",", " , ")) + "}")
		if checkFast(t, raw) {
			fast++
		}
	}
	if fast < n/50 {
		t.Fatalf("decodeFast decoded %d of %d events, want at least %d", fast, n, n/50)
	}
	for _, s := range fastSeeds[:2] { // the common shapes
		if !checkFast(t, []byte(s)) {
			t.Errorf("decodeFast left %s to sdk-go", s)
		}
	}
	t.Logf("decodeFast decoded %d of %d events", fast, n)
}
