package datacheck_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/ingest/internal/datacheck"
)

// TestMain fails the package's tests if a goroutine outlives them.
func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

// The benchmark's stream (cmd/ingest-bench).
const benchDef = `{"name":"bench","type":"com.example.bench.event.v1","entity_key":"/user_id","event_time":"/at",
 "schema":{"type":"object","required":["user_id","item_id","at","amount","payload"],"properties":{
  "user_id":{"type":"string","minLength":1},"item_id":{"type":"string"},"at":{"type":"string","format":"date-time"},
  "amount":{"type":"number","minimum":0},"tags":{"type":"array","items":{"type":"string"}},"payload":{"type":"string"}},
  "additionalProperties":false}}`

// Every keyword the compiler knows, nested, and one it does not (const).
const keywordsDef = `{"name":"kw","type":"com.example.kw.v1","entity_key":"/k/id","event_time":"",
 "schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"t","description":"d","type":"object",
  "required":["k"],"properties":{
   "k":{"type":"object","required":["id"],"properties":{"id":{"type":["string","integer"],"maxLength":8}},"additionalProperties":false},
   "n":{"type":["number","null"],"minimum":-1.5,"maximum":100,"exclusiveMinimum":-2,"exclusiveMaximum":1e2},
   "i":{"type":"integer","minimum":0,"maximum":10},
   "s":{"type":"string","minLength":2,"maxLength":4,"pattern":"^[a-zé]+$"},
   "e":{"enum":["a","b",1,null]},
   "t":{"format":"date-time"},
   "arr":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"boolean"}},
   "free":{},
   "yes":true,
   "no":false,
   "c":{"const":"x"},
   "m":{"type":"object","additionalProperties":{"type":"string"}}
  }}}`

func streams(t testing.TB) map[string]*streamspec.Stream {
	t.Helper()
	out := map[string]*streamspec.Stream{}
	for _, def := range []string{benchDef, keywordsDef} {
		s, err := streamspec.Parse([]byte(def))
		if err != nil {
			t.Fatal(err)
		}
		out[s.Name] = s
	}
	labels, err := streamspec.Labels()
	if err != nil {
		t.Fatal(err)
	}
	out[labels.Name] = labels
	files, err := streamspec.LoadDir(os.DirFS("../../../../schemas/streams"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range files {
		out[s.Name] = s
	}
	if out["clicks"] == nil {
		t.Fatal("schemas/streams/clicks.json not loaded")
	}
	return out
}

const at = `"2026-12-01T10:00:00.123456789Z"`

var cases = []struct {
	stream, data string
	fast         bool // the compiled check decides: valid
}{
	{"bench", `{"user_id":"u-1","item_id":"i","at":` + at + `,"amount":3.5,"tags":["a","b"],"payload":"xx"}`, true},
	{"bench", ` {"payload":"p\"q\u00e9","amount":0,"at":"2026-12-01T10:00:00+01:00","item_id":"","user_id":"é"} `, true},
	{"bench", `{"user_id":"u\\","item_id":"i\\\"","at":` + at + `,"amount":1,"payload":"\\\\\"\\"}`, true}, // runs of backslashes
	{"bench", `{"user_id":"u\\","item_id":"i\\\"","at":` + at + `,"amount":1,"payload":"\\\\\"\\","x\"":1}`, false},
	{"bench", `{"user_id":"u","item_id":"i","at":"2026-12-01t10:00:00Z","amount":1,"payload":""}`, false}, // a date-time, not RFC3339Nano for time.Parse
	{"bench", `{"user_id":"u","item_id":"i","at":` + at + `,"amount":1e2,"payload":""}`, false},           // exponent: library
	{"bench", `{"user_id":"u","item_id":"i","at":` + at + `,"amount":-1,"payload":""}`, false},            // minimum
	{"bench", `{"user_id":"u","item_id":"i","at":` + at + `,"amount":-0.0,"payload":""}`, false},          // equal to the bound, not an integer: library
	{"bench", `{"user_id":"","item_id":"i","at":` + at + `,"amount":1,"payload":""}`, false},              // minLength
	{"bench", `{"user_id":"u","item_id":"i","at":` + at + `,"amount":1}`, false},                          // required
	{"bench", `{"user_id":"u","item_id":"i","at":` + at + `,"amount":1,"payload":"","x":1}`, false},
	{"bench", `{"user_id":"u","user_id":"v","item_id":"i","at":` + at + `,"amount":1,"payload":""}`, false}, // key twice
	{"bench", `{"user_id":"u","item_id":"i","at":"2026-02-30T10:00:00Z","amount":1,"payload":""}`, false},
	{"bench", `{"user_id":"u","item_id":"i","at":"2026-12-31T23:59:60Z","amount":1,"payload":""}`, false}, // leap second: library
	{"bench", `{"user_id":"u","item_id":"i","at":` + at + `,"amount":1,"payload":"","tags":[1]}`, false},
	{"bench", `{"user_id":"u","item_id":"i","at":` + at + `,"amount":1,"payload":""} x`, false},
	{"bench", `{"user_id":"u","item_id":"i","at":` + at + `,"amount":1,"payload":"`, false},
	{"bench", `[]`, false},
	{"bench", ``, false},
	{"kw", `{"k":{"id":"abc"}}`, true},
	{"kw", `{"k":{"id":12}}`, true},
	{"kw", `{"k":{"id":1.5}}`, false},
	{"kw", `{"k":{"id":"123456789"}}`, false},
	{"kw", `{"k":{"id":12345678901234567890}}`, false}, // not an int64
	{"kw", `{"k":{"id":""}}`, false},                   // empty key: the stream's rule
	{"kw", `{"k":{"id":"a"},"n":null,"i":10,"s":"éé","e":"b","t":3,"arr":[true,false],"free":{"a":[1,{"b":null}],"b":"c"},"yes":[]}`, true},
	{"kw", `{"k":{"id":"a"},"n":100}`, false},
	{"kw", `{"k":{"id":"a"},"n":99.999}`, true},
	{"kw", `{"k":{"id":"a"},"n":-1.5}`, false}, // equal to the bound: library (valid there)
	{"kw", `{"k":{"id":"a"},"i":0}`, true},
	{"kw", `{"k":{"id":"a"},"i":11}`, false},
	{"kw", `{"k":{"id":"a"},"i":1.0}`, false}, // an integer for the library
	{"kw", `{"k":{"id":"a"},"s":"A1"}`, false},
	{"kw", `{"k":{"id":"a"},"s":"abcde"}`, false},
	{"kw", `{"k":{"id":"a"},"e":1}`, false}, // a number member: library
	{"kw", `{"k":{"id":"a"},"e":"c"}`, false},
	{"kw", `{"k":{"id":"a"},"arr":[]}`, false},
	{"kw", `{"k":{"id":"a"},"arr":[true,true,true,true]}`, false},
	{"kw", `{"k":{"id":"a"},"no":1}`, false},
	{"kw", `{"k":{"id":"a"},"c":"x"}`, false}, // const: not compiled
	{"kw", `{"k":{"id":"a"},"free":{"a":1,"a":2}}`, false},
	{"kw", `{"k":{"id":"a"},"m":{"a":"1","b":"2"}}`, true},
	{"kw", `{"k":{"id":"a"},"m":{"a":1}}`, false},
	{"kw", `{"k":{"id":"a"},"other":1}`, true},
	{"labels", `{"stream":"fraud","entity_key":"u-1","value":1,"event_time":` + at + `}`, true},
	{"labels", `{"stream":"-fraud","entity_key":"u-1","value":1,"event_time":` + at + `}`, false},
	{"clicks", `{"user_id":"u","item_id":"i","clicked_at":` + at + `,"page":"home","price":0}`, true},
	{"clicks", `{"user_id":"u","item_id":"i","clicked_at":` + at + `,"page":"other"}`, false},
}

// TestCheckEqualsStreamCheck: the compiled check decides the data it can
// (valid), leaves the rest to the library, and Check answers what the
// stream's Check answers in every case.
func TestCheckEqualsStreamCheck(t *testing.T) {
	all := streams(t)
	for _, tc := range cases {
		s := all[tc.stream]
		c := datacheck.New(s)
		if !c.Compiled() {
			t.Fatalf("%s: schema not compiled", tc.stream)
		}
		wantF, wantErr := s.Check([]byte(tc.data))
		f, fast := c.Fast([]byte(tc.data))
		if fast != tc.fast {
			t.Errorf("%s %s: Fast = %v, want %v (library: %v)", tc.stream, tc.data, fast, tc.fast, wantErr)
		}
		if fast && (wantErr != nil || !reflect.DeepEqual(f, wantF)) {
			t.Errorf("%s %s: Fast says valid with %+v; library: %+v, %v", tc.stream, tc.data, f, wantF, wantErr)
		}
		gotF, gotErr := c.Check([]byte(tc.data))
		if errString(gotErr) != errString(wantErr) || !reflect.DeepEqual(gotF, wantF) {
			t.Errorf("%s %s: Check = %+v, %v; want %+v, %v", tc.stream, tc.data, gotF, gotErr, wantF, wantErr)
		}
		if json.Valid([]byte(tc.data)) {
			gotF, gotErr := c.CheckValidJSON([]byte(tc.data))
			if errString(gotErr) != errString(wantErr) || !reflect.DeepEqual(gotF, wantF) {
				t.Errorf("%s %s: CheckValidJSON = %+v, %v; want %+v, %v", tc.stream, tc.data, gotF, gotErr, wantF, wantErr)
			}
		}
	}
}

// TestNotCompiled: a schema with a keyword at its root that the compiler
// does not know, or an entity key outside the declared properties, leaves
// every check to the library.
func TestNotCompiled(t *testing.T) {
	for _, def := range []string{
		`{"name":"a","type":"a.v1","entity_key":"/id","schema":{"$ref":"#/$defs/x","$defs":{"x":{"type":"object"}}}}`,
		`{"name":"b","type":"b.v1","entity_key":"/id","schema":{"type":"object"}}`,
		`{"name":"c","type":"c.v1","entity_key":"/id","schema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"id":{}}}}`,
	} {
		s, err := streamspec.Parse([]byte(def))
		if err != nil {
			t.Fatal(err)
		}
		c := datacheck.New(s)
		if c.Compiled() {
			t.Errorf("%s: compiled", s.Name)
		}
		data := []byte(`{"id":"x"}`)
		f, err := c.Check(data)
		wantF, wantErr := s.Check(data)
		if errString(err) != errString(wantErr) || f != wantF {
			t.Errorf("%s: Check = %+v, %v; want %+v, %v", s.Name, f, err, wantF, wantErr)
		}
	}
}

// TestFastSharesNothing: the fields do not change when the data does.
func TestFastSharesNothing(t *testing.T) {
	c := datacheck.New(streams(t)["bench"])
	data := []byte(`{"user_id":"u-1","item_id":"i","at":` + at + `,"amount":3.5,"payload":"xx"}`)
	f, ok := c.Fast(data)
	if !ok {
		t.Fatal("not decided")
	}
	copy(data[len(`{"user_id":"`):], "XXX")
	if f.EntityKey != "u-1" {
		t.Fatalf("entity key %q changed with the data", f.EntityKey)
	}
}

func TestCache(t *testing.T) {
	all := streams(t)
	var cache datacheck.Cache
	a := cache.For(all["bench"])
	if cache.For(all["bench"]) != a {
		t.Fatal("compiled again for the same stream")
	}
	again, err := streamspec.Parse([]byte(strings.Replace(benchDef, `"minLength":1`, `"minLength":2`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	b := cache.For(again)
	if b == a || b.Stream() != again {
		t.Fatal("a new version of the stream kept the old checker")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
