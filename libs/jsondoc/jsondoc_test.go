package jsondoc_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/jsondoc"
)

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, doc, pointer string
		want               error
	}{
		{"huge exponent", `{"price":1e1000000000}`, "/price", jsondoc.ErrNumberRange},
		{"huge negative", `[0,-1e400]`, "/1", jsondoc.ErrNumberRange},
		{"tiny exponent", `{"a":{"b":1e-1000000000}}`, "/a/b", jsondoc.ErrNumberRange},
		{"underflow", `2e-324`, "", jsondoc.ErrNumberRange},
		{"zero, exponent too long", `{"z":0e99999999999999999999}`, "/z", jsondoc.ErrNumberRange},
		{"too many digits", `{"n":1.` + strings.Repeat("0", 1100) + `}`, "/n", jsondoc.ErrNumberRange},
		{"duplicate key", `{"a":1,"a":2}`, "/a", jsondoc.ErrDuplicateKey},
		{"duplicate key, escaped", `{"x":{"a/b":1,"a\/b":2}}`, "/x/a~1b", jsondoc.ErrDuplicateKey},
		{"duplicate key in array", `[{},{"k":1,"k":1}]`, "/1/k", jsondoc.ErrDuplicateKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jsondoc.Parse([]byte(tc.doc))
			var e *jsondoc.Error
			if !errors.As(err, &e) || !errors.Is(err, tc.want) || e.Pointer != tc.pointer {
				t.Fatalf("want %v at %q, got %v (%#v)", tc.want, tc.pointer, err, e)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, doc := range []string{
		`1.7976931348623157e308`, `-1.7976931348623157e308`, `4.9e-324`, `0e9999`, `0.0`, `-0`, `1E+308`,
		strings.Repeat("9", 308), `{"a":1,"b":{"a":2}}`, `[{"a":1},{"a":1}]`, `12345678901234567890123`,
	} {
		if _, err := jsondoc.Parse([]byte(doc)); err != nil {
			t.Errorf("%.50s: %v", doc, err)
		}
	}
}
