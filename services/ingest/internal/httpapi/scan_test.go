package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var scanSeeds = []string{
	``, ` `, `[]`, ` [ ] `, `[1,2]`, `[1,]`, `[,1]`, `[1 2]`, `{}`, `{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{1:1}`,
	`"a\u00e9\n"`, `"\u12G4"`, `"\x"`, "\"\x01\"", "\"\xff\xfe\"", `"abc`, `-`, `-0`, `01`, `1.`, `1.5e`, `1.5e+3`, `-0.0E-0`,
	`true`, `tru`, `nul`, `false `, `[true,false,null]`, `[{"a":[{"b":{}}]}]`, `[1]x`, `[1]]`, `[[[[`, `"\"`,
	`[{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":[1,2.5,"x"]}} , {"b":null}]`,
}

// FuzzScan compares the one-pass scanner with encoding/json: it accepts
// exactly the documents json.Valid accepts, and cuts an array into the
// elements json.Unmarshal finds.
func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid %v", b, got, want)
		}
		checkSplit(t, b)
	})
}

func checkSplit(t *testing.T, b []byte) {
	t.Helper()
	var want []json.RawMessage
	wantErr := json.Unmarshal(b, &want)
	got, err := splitArray(b)
	if (err != nil) != (wantErr != nil || want == nil) {
		t.Fatalf("splitArray(%q): error %v, json.Unmarshal: %v (array %v)", b, err, wantErr, want != nil)
	}
	if err != nil {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("splitArray(%q): %d elements, want %d", b, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], bytes.TrimSpace(want[i])) {
			t.Fatalf("splitArray(%q)[%d] = %q, want %q", b, i, got[i], want[i])
		}
	}
}

func TestScanSeeds(t *testing.T) {
	for _, s := range scanSeeds {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%q) = %v, json.Valid %v", s, got, want)
		}
		checkSplit(t, []byte(s))
	}
}

// TestScanNesting checks encoding/json's depth limit of 10000 nested
// arrays and objects, at the top level and inside a batch.
func TestScanNesting(t *testing.T) {
	for _, n := range []int{9999, 10000, 10001} {
		for _, open := range []string{"[", `{"a":`} {
			close := map[string]string{"[": "]", `{"a":`: "}"}[open]
			doc := []byte(strings.Repeat(open, n) + "1" + strings.Repeat(close, n))
			if got, want := validJSON(doc), json.Valid(doc); got != want {
				t.Errorf("%d times %s: validJSON %v, json.Valid %v", n, open, got, want)
			}
			checkSplit(t, doc)
		}
	}
}
