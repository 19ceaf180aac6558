package jsondoc_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tributary-ml/tributary/libs/jsondoc"
)

func TestValidate(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"type":"object","required":["a"],"additionalProperties":false,
	 "properties":{"a":{"type":"integer","minimum":0},"a/b":{"type":"string"},"c":{"not":{}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("urn:test", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("urn:test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, data string
		want       []string // Violation.String, in order
		wantErr    error
	}{
		{"valid", `{"a":1}`, nil, nil},
		{"missing and extra, sorted by field", `{"z":1,"a/b":2}`, []string{"/a: required: missing property", "/a~1b: type: got number, want string", "/z: additionalProperties: property not allowed"}, nil},
		{"minimum", `{"a":-1}`, []string{"/a: minimum: got -1, want 0"}, nil},
		{"not", `{"a":1,"c":1}`, []string{"/c: not: 'not' failed"}, nil},
		{"document", `[]`, []string{"/: type: got array, want object"}, nil},
		{"malformed", `{"a":`, nil, jsondoc.ErrMalformed},
		{"trailing data", `{"a":1} 2`, nil, jsondoc.ErrMalformed},
		{"key twice", `{"a":1,"a":2}`, nil, jsondoc.ErrDuplicateKey},
		{"huge number", `{"a":1e400}`, nil, jsondoc.ErrNumberRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, vs, err := jsondoc.Validate(sch, []byte(tc.data))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			var got []string
			for _, v := range vs {
				got = append(got, v.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("violations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
