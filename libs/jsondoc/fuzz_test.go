package jsondoc

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// everyNumber applies the number keywords that use exact arithmetic
// (minimum, maximum, multipleOf), uniqueItems and enum to every value of a
// document, so that the fuzz target reaches the validator with each number.
const everyNumber = `{"minimum":-1e300,"maximum":1e300,"multipleOf":0.25,"uniqueItems":true,
 "not":{"enum":[1e308,-0.5]},"items":{"$ref":"#"},"additionalProperties":{"$ref":"#"}}`

var fuzzSeeds = []string{
	`{"a":[1,-2.5e+3,0,true,false,null,"x\"y\u00e9\ud83d\ude00"],"b":{},"c":[]}`, ` 12345678901234567890 `, `"\xff"`,
	`{"a":1,"a":2}`, `[1,]`, `{"a" 1}`, `01`, `-`, `1.`, `1e`, `"\u12"`, "\"a\tb\"", `{} {}`, `[[[[]]]]`, `nul`, ``, `  `,
	// numbers float64 cannot hold, and their neighbours it can
	`1e1000000000`, `-1e1000000000`, `1e-1000000000`, `0e99999999999999999999`, `1e400`, `1e308`, `1.7976931348623157e308`,
	`1.8e308`, `4.9e-324`, `2e-324`, `0e9999`, `0e10000`, `[1e999999,1e999999]`, `{"p":{"q":[0,1E+400]}}`, `0.` + strings.Repeat("0", 400) + `1`,
	`1.` + strings.Repeat("0", 1100), strings.Repeat("9", 309), strings.Repeat("9", 310),
	// duplicate keys, also nested and escaped
	`{"a":{"b":1,"b":1}}`, `{"a":1,"\u0061":2}`, `[{"x":1},{"x":1,"y":2,"x":3}]`, `{"a/b~":1,"a/b~":2}`,
}

// FuzzParse holds Parse to the decoder it replaces: the same value where
// Parse accepts; where it refuses a well-formed document, a *Error that the
// reference decoder accepts; and every document it accepts validates
// without a panic against number keywords applied to each of its values.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	c := jsonschema.NewCompiler()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(everyNumber))
	if err != nil {
		f.Fatal(err)
	}
	if err := c.AddResource("urn:every-number", doc); err != nil {
		f.Fatal(err)
	}
	sch, err := c.Compile("urn:every-number")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Parse(b)
		want, wantErr := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		var refused *Error
		switch {
		case errors.As(err, &refused):
			if wantErr != nil {
				t.Fatalf("%q: refused (%v) a document the reference finds malformed: %v", b, err, wantErr)
			}
			if !errors.Is(err, ErrDuplicateKey) && !errors.Is(err, ErrNumberRange) {
				t.Fatalf("%q: *Error wrapping %v", b, refused.Err)
			}
			return
		case (err != nil) != (wantErr != nil):
			t.Fatalf("%q: Parse error %v, reference error %v", b, err, wantErr)
		case err != nil:
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: Parse %#v, reference %#v", b, got, want)
		}
		_ = sch.Validate(got) // must not panic
	})
}
