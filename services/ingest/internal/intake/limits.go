package intake

import (
	"fmt"
	"sort"
	"unicode/utf8"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/tributary-ml/tributary/libs/reason"
)

// Limits of what goes into a record beside the data. Together with
// MaxEventBytes they bound every record ingest writes to a stream, so that
// none can exceed Kafka's message limit (the producer's batches hold
// MaxEventBytes+64 KiB): an event's record is at most MaxEventBytes of data
// plus its headers. A dead-letter record is bounded by deadletter.Builder
// (Config.DeadLetterMaxBytes).
const (
	// MaxAttributeBytes bounds one attribute or extension value (id,
	// source, type, subject, dataschema, datacontenttype, each extension),
	// and the entity key, which becomes the partitionkey extension.
	MaxAttributeBytes = 4 << 10
	// MaxAttributesBytes bounds the names and values of all attributes and
	// extensions of an event together.
	MaxAttributesBytes = 32 << 10
)

// checkAttributes rejects an event whose attributes or extensions exceed
// the limits.
// source is e.Source().
func checkAttributes(e *ce.Event, source string) *Rejection {
	total := 0
	over := func(name string, n int) *Rejection {
		total += len(name) + n
		if n > MaxAttributeBytes {
			return reject(reason.AttributeTooLarge, "%s: %d bytes, more than the limit of %d", cutName(name), n, MaxAttributeBytes)
		}
		return nil
	}
	c := e.Context
	if c == nil {
		return nil
	}
	for _, a := range []struct {
		name  string
		value string
	}{
		{"id", c.GetID()}, {"source", source}, {"type", c.GetType()}, {"subject", c.GetSubject()},
		{"dataschema", c.GetDataSchema()}, {"datacontenttype", c.GetDataContentType()},
	} {
		if r := over(a.name, len(a.value)); r != nil {
			return r
		}
	}
	exts := extensionsOf(e)
	size := func(v any) int {
		if s, ok := v.(string); ok {
			return len(s)
		}
		s, _ := types.Format(v)
		return len(s)
	}
	var tooLarge []string
	for name, v := range exts {
		if n := size(v); n > MaxAttributeBytes {
			tooLarge = append(tooLarge, name)
		} else {
			total += len(name) + n
		}
	}
	if len(tooLarge) > 0 {
		sort.Strings(tooLarge) // the same event, the same message
		return over(tooLarge[0], size(exts[tooLarge[0]]))
	}
	if total > MaxAttributesBytes {
		return reject(reason.AttributeTooLarge, "attributes: %d bytes of names and values, more than the limit of %d", total, MaxAttributesBytes)
	}
	return nil
}

// cutBytes cuts b to at most n bytes, at a rune boundary when b is UTF-8.
func cutBytes(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	i := n
	for i > n-utf8.UTFMax && i > 0 && !utf8.RuneStart(b[i]) {
		i--
	}
	if !utf8.RuneStart(b[i]) {
		i = n
	}
	return b[:i:i]
}

func cutName(s string) string {
	if len(s) <= 64 {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", cutBytes([]byte(s), 64), len(s))
}
