package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// UnmarshalStrict decodes the JSON value in data into v like
// json.Unmarshal, but refuses fields that v does not have (a misspelt
// "feature_definitons" must not register a version without feature
// definitions) and anything after the value. Every decoder of a request or
// a user's file uses it.
func UnmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
