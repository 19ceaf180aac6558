package datacheck_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/tributary-ml/tributary/services/ingest/internal/datacheck"
)

// FuzzFast checks the compiled check against the library (streamspec's
// Check: santhosh-tekuri/jsonschema over jsondoc) on the same schemas: the
// bench stream, the label stream, schemas/streams and one with every
// compiled keyword. Whenever the compiled check says valid, the library
// says valid with the same fields, and Check always answers as the
// library does, and so does CheckValidJSON for data that is valid JSON.
func FuzzFast(f *testing.F) {
	all := streams(f)
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	slices.Sort(names)
	checkers := make([]*datacheck.Checker, len(names))
	for i, name := range names {
		checkers[i] = datacheck.New(all[name])
	}
	for _, tc := range cases {
		f.Add([]byte(tc.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range checkers {
			s := c.Stream()
			wantF, wantErr := s.Check(data)
			if f, ok := c.Fast(data); ok && (wantErr != nil || !reflect.DeepEqual(f, wantF)) {
				t.Fatalf("%s %q: Fast says valid with %+v; library: %+v, %v", s.Name, data, f, wantF, wantErr)
			}
			gotF, gotErr := c.Check(data)
			if errString(gotErr) != errString(wantErr) || !reflect.DeepEqual(gotF, wantF) {
				t.Fatalf("%s %q: Check = %+v, %v; want %+v, %v", s.Name, data, gotF, gotErr, wantF, wantErr)
			}
			if json.Valid(data) {
				gotF, gotErr := c.CheckValidJSON(data)
				if errString(gotErr) != errString(wantErr) || !reflect.DeepEqual(gotF, wantF) {
					t.Fatalf("%s %q: CheckValidJSON = %+v, %v; want %+v, %v", s.Name, data, gotF, gotErr, wantF, wantErr)
				}
			}
		}
	})
}
