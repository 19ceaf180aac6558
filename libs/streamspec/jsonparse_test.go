package streamspec

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// FuzzParseJSON holds parseJSON to the decoder it replaces: the same value,
// or both refuse.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,-2.5e+3,0,true,false,null,"x\"y\u00e9\ud83d\ude00"],"b":{},"c":[]}`, ` 12345678901234567890 `, `"\xff"`,
		`{"a":1,"a":2}`, `[1,]`, `{"a" 1}`, `01`, `-`, `1.`, `1e`, `"\u12"`, "\"a\tb\"", `{} {}`, `[[[[]]]]`, `nul`, ``, `  `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseJSON(b)
		want, wantErr := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: parseJSON error %v, reference error %v", b, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: parseJSON %#v, reference %#v", b, got, want)
		}
	})
}
