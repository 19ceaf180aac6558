package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
)

// FuzzDecode feeds arbitrary requests to the decoders: they never panic,
// every item is either a valid CloudEvent that encodes as a Kafka record or
// a rejection with a known reason and a message, and a batch never yields
// more items than the limit.
func FuzzDecode(f *testing.F) {
	f.Add(ContentTypeStructured, "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}`)
	f.Add(ContentTypeStructured, "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAE="}`)
	f.Add(ContentTypeBatch, "", "", `[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{},null,1]`)
	f.Add(ContentTypeBatch, "", "", `[]`)
	f.Add("application/json", "1.0", "abc", `{"a":1}`)
	f.Add("text/plain", "1.0", "%ZZ", ``)
	f.Add("application/json", "0.3", "", `x`)
	f.Add("", "", "", `{"specversion":"1.0","id":"1","source":"::","type":"t","time":"nope"}`)
	// The hardening issue's inputs: numbers float64 cannot hold, keys twice,
	// upper-case extensions, data_base64 after a blank.
	f.Add(ContentTypeStructured, "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"k":"a","p":1e1000000000}}`)
	f.Add(ContentTypeStructured, "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"k":"a","p":[-1e-1000000000,0e99999999999999999999]}}`)
	f.Add("application/json", "1.0", "x", `{"k":"a","p":1E+400,"q":{"r":2e-324}}`)
	f.Add(ContentTypeStructured, "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"k":"a","k":"b"}}`)
	f.Add(ContentTypeStructured, "", "", `{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t","x":"1","x":"2"}`)
	f.Add(ContentTypeStructured, "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","MyExt":"x","myext":"y"}`)
	f.Add(ContentTypeStructured, "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64" : "eyJrIjoiYSJ9"}`)
	f.Add(ContentTypeBatch, "", "", `[{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64": "eyJrIjoxZTQwMH0=","data":{}}]`)
	// An attribute that is not UTF-8: refused at decoding, not only when
	// the record is encoded.
	f.Add(ContentTypeStructured, "", "", "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\xff\"}")
	f.Add(ContentTypeBatch, "", "", "[{\"specversion\":\"1.0\",\"id\":\"1\xff\",\"source\":\"/s\",\"type\":\"t\"}]")
	stream, err := streamspec.Parse([]byte(`{"name":"fuzz","type":"t","entity_key":"/k","schema":` + everyNumber + `}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, contentType, specversion, ext, body string) {
		h := http.Header{}
		h.Set("Content-Type", contentType)
		if specversion != "" {
			h.Set("Ce-Specversion", specversion)
			h.Set("Ce-Id", "id-1")
			h.Set("Ce-Source", "/src")
			h.Set("Ce-Type", "com.example.t.v1")
			h.Set("Ce-Myext", ext)
		}
		var items []intake.Item
		switch modeOf(h) {
		case modeBatch:
			items, _ = decodeBatch([]byte(body), 5)
			if len(items) > 5 {
				t.Fatalf("%d items from a batch limited to 5", len(items))
			}
		case modeStructured:
			items = []intake.Item{decodeStructured([]byte(body))}
		case modeBinary:
			items = []intake.Item{decodeBinary(h, []byte(body))}
		default:
			return
		}
		for _, it := range items {
			switch {
			case it.Event != nil && it.Rejection != nil, it.Event == nil && it.Rejection == nil:
				t.Fatalf("item with event %v and rejection %v", it.Event, it.Rejection)
			case it.Rejection != nil:
				if !slices.Contains(intake.Reasons(), it.Rejection.Reason) || it.Rejection.Message == "" {
					t.Fatalf("rejection %+v", it.Rejection)
				}
			default:
				if err := it.Event.Validate(); err != nil {
					t.Fatalf("decoded event does not validate: %v", err)
				}
				if _, err := event.ToKafkaRecord(context.Background(), *it.Event, "t"); err != nil {
					t.Fatalf("decoded event does not encode: %v (%+v)", err, it.Event)
				}
				_, _ = stream.Check(it.Event.Data()) // reaches the validator; must not panic
				for name := range it.Event.Extensions() {
					if strings.ToLower(name) != name {
						t.Fatalf("extension %q accepted", name)
					}
				}
			}
		}
	})
}

// FuzzSplitArray checks the batch splitter against encoding/json: the same
// elements, or both refuse.
func FuzzSplitArray(f *testing.F) {
	for _, s := range []string{`[]`, ` [ 1 , "a\"]" , {"x":[1,{"y":"}"}]} , null,true ] `, `[1 2]`, `{}`, `[[],[[]]]`, `["\\"]`, `[1,]`, ` null `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, err := splitArray([]byte(body))
		var want []json.RawMessage
		wantErr := json.Unmarshal([]byte(body), &want)
		if wantErr == nil && want == nil { // null: no array, which splitArray refuses
			if err == nil {
				t.Fatalf("splitArray accepted %q", body)
			}
			return
		}
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("splitArray error %v, json.Unmarshal error %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%d elements, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("element %d: %q, want %q", i, got[i], want[i])
			}
		}
	})
}

// everyNumber applies the keywords that compute exactly (minimum, maximum,
// multipleOf), uniqueItems and enum to every value of the data.
const everyNumber = `{"minimum":-1e300,"maximum":1e300,"multipleOf":0.25,"uniqueItems":true,
 "not":{"enum":[1e308,-0.5]},"items":{"$ref":"#"},"additionalProperties":{"$ref":"#"}}`
