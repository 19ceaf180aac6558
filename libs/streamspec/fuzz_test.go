package streamspec_test

import (
	"testing"

	"github.com/tributary-ml/tributary/libs/streamspec"
)

// FuzzParse feeds arbitrary definitions (they come from files and from the
// KV bucket, which anyone with NATS access can write) and data to Parse and
// Check: neither may panic, and Parse refuses only with
// ErrInvalidDefinition.
func FuzzParse(f *testing.F) {
	f.Add([]byte(clicks), []byte(`{"user":{"id":"u1"},"at":"2026-11-26T10:00:00.5Z","n":1}`))
	f.Add([]byte(`{"name":"a","type":"t","entity_key":"/k","schema":{"minimum":1e1000000000,"multipleOf":1e-400}}`), []byte(`{"k":1e400}`))
	f.Add([]byte(`{"name":"a","type":"t","entity_key":"/k","schema":{"pattern":"(","$ref":"#/$defs/x"}}`), []byte(`{"k":"a","k":"b"}`))
	f.Add([]byte(`{"name":"a","type":"t","entity_key":"/k","event_time":"/t","schema":{"type":"object","properties":{"k":{"enum":[1,1.0,1e0]},"t":{"format":"date-time"}},"uniqueItems":true}}`), []byte(`{"k":1,"t":"2026-11-26T10:00:00Z"}`))
	f.Fuzz(func(t *testing.T, def, data []byte) {
		s, err := streamspec.Parse(def)
		if err != nil {
			return
		}
		_, _ = s.Check(data)
	})
}
