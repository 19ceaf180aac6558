package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodePredict: the decoder never panics, and what it accepts is a
// body encoding/json reads the same way, within the limits.
func FuzzDecodePredict(f *testing.F) {
	for _, s := range []string{`{"entities":["a"]}`, `{"entities":[{"key":"a","features":{"r:x":1}}]}`, `{"entities":5}`, `{}`, `[`, `{"entities":[{"key":""}]}`} {
		f.Add([]byte(s))
	}
	for _, s := range []string{`{"entities":[]}`, ` { "entities" : [ "a" , "b c" ] } ` + "\n", `{"entities":["a\u0062"]}`, `{"entities":["a"],"entities":["b"]}`, `{"Entities":["a"]}`, `{"entities":["a"]} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// What the fast path reads, encoding/json reads the same way.
		if keys, ok := decodeKeys(b); ok {
			var want PredictRequest
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&want); err != nil || dec.More() || len(want.Entities) != len(keys) {
				t.Fatalf("fast path read %q as %q; encoding/json: %+v, %v", b, keys, want, err)
			}
			for i, e := range want.Entities {
				if e.Key != keys[i] || e.Features != nil {
					t.Fatalf("fast path read %q as %q; encoding/json as %+v", b, keys, want)
				}
			}
		}
		req, err := DecodePredict(bytes.NewReader(b))
		if err != nil {
			var e *apiError
			if !errors.As(err, &e) || e.status < 400 {
				t.Fatalf("error %v is not an answer", err)
			}
			return
		}
		if len(req.Entities) == 0 || len(req.Entities) > MaxEntities || !json.Valid(b) {
			t.Fatalf("accepted %q as %+v", b, req)
		}
		for _, e := range req.Entities {
			if e.Key == "" {
				t.Fatalf("accepted an empty key: %q", b)
			}
		}
	})
}

// FuzzDecodeInfer: the decoder never panics; an accepted input holds as
// many values as its shape says.
func FuzzDecodeInfer(f *testing.F) {
	for _, s := range []string{
		`{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP64","data":[1,2]}]}`,
		`{"inputs":[{"name":"input","shape":[1,2],"datatype":"INT8","data":[[1,2]]}]}`,
		`{"inputs":[{"name":"input","shape":[2],"datatype":"BOOL","data":[true,false]}]}`,
		`{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}` + "\x00\x00\x80\x3f",
		`{"inputs":[{"name":"x","shape":[3],"datatype":"BYTES","data":["a"]}]}`,
		`{"inputs":[{"name":"x","shape":[2,1],"datatype":"BYTES","data":[["a"],["bc"]]}]}`,
	} {
		f.Add([]byte(s), -1)
	}
	f.Add([]byte(`{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}`+"\x00\x00\x80\x3f"), 97)
	bytesHead := `{"inputs":[{"name":"m","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":11}}]}`
	f.Add([]byte(bytesHead+"\x02\x00\x00\x00ab\x01\x00\x00\x00c"), len(bytesHead))
	f.Fuzz(func(t *testing.T, b []byte, jsonLen int) {
		req, err := DecodeInfer(b, jsonLen)
		if err != nil {
			var e *apiError
			if !errors.As(err, &e) || e.status != 400 {
				t.Fatalf("error %v is not a 400 answer", err)
			}
			return
		}
		for _, in := range req.Inputs {
			n := 1
			for _, d := range in.Shape {
				n *= int(d)
			}
			if len(in.values) != n || (in.Datatype == "BYTES" && len(in.texts) != n) {
				t.Fatalf("input %s shape %v holds %d values, %d texts", in.Name, in.Shape, len(in.values), len(in.texts))
			}
		}
	})
}
