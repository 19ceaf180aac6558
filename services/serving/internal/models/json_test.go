package models

import (
	"bytes"
	"encoding/json"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
