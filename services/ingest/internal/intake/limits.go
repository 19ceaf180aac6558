package intake

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"unicode/utf8"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
)

// Limits of what goes into a record beside the data. Together with
// MaxEventBytes they bound every record ingest writes, so that none can
// exceed Kafka's message limit (the producer's batches hold
// MaxEventBytes+64 KiB): an event's record is at most MaxEventBytes of data
// plus its headers, a dead-letter record at most MaxEventBytes of value plus
// MaxDeadLetterHeaderBytes.
const (
	// MaxAttributeBytes bounds one attribute or extension value (id,
	// source, type, subject, dataschema, datacontenttype, each extension),
	// and the entity key, which becomes the partitionkey extension.
	MaxAttributeBytes = 4 << 10
	// MaxAttributesBytes bounds the names and values of all attributes and
	// extensions of an event together.
	MaxAttributesBytes = 32 << 10
	// maxHeaderName bounds a header name kept on a dead-letter record.
	maxHeaderName = 256
	// MaxDeadLetterHeaderBytes bounds the headers of a dead-letter record (its
	// key, the partitionkey, is at most MaxAttributeBytes):
	// the event's (cut to fit), then ingest's own (reason, error of at most
	// maxMessage, origin, received, truncated).
	MaxDeadLetterHeaderBytes = MaxAttributesBytes + MaxAttributeBytes + maxMessage + 1024
	// maxMessage bounds the error message in a dead-letter header.
	maxMessage = 4096
)

// checkAttributes rejects an event whose attributes or extensions exceed
// the limits.
func checkAttributes(e *ce.Event) *Rejection {
	total := 0
	over := func(name string, n int) *Rejection {
		total += len(name) + n
		if n > MaxAttributeBytes {
			return reject(ReasonAttributeTooLarge, "%s: %d bytes, more than the limit of %d", cutName(name), n, MaxAttributeBytes)
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
		{"id", c.GetID()}, {"source", c.GetSource()}, {"type", c.GetType()}, {"subject", c.GetSubject()},
		{"dataschema", c.GetDataSchema()}, {"datacontenttype", c.GetDataContentType()},
	} {
		if r := over(a.name, len(a.value)); r != nil {
			return r
		}
	}
	exts := c.GetExtensions()
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
		return reject(ReasonAttributeTooLarge, "attributes: %d bytes of names and values, more than the limit of %d", total, MaxAttributesBytes)
	}
	return nil
}

// identifying are the headers a dead-letter record keeps first.
var identifying = map[string]int{
	event.KafkaHeaderPrefix + "id": 1, event.KafkaHeaderPrefix + "source": 2, event.KafkaHeaderPrefix + "type": 3,
	event.KafkaHeaderPrefix + "specversion": 4, event.KafkaHeaderPrefix + "time": 5, event.KafkaContentTypeHeader: 6,
}

// boundHeaders returns headers that fit MaxAttributesBytes+MaxAttributeBytes:
// the identifying ones first, then the others in order, each value cut to
// MaxAttributeBytes (at a rune boundary), a name over maxHeaderName or a
// header past the total left out. cut reports whether anything was.
func boundHeaders(hs []kgo.RecordHeader) (out []kgo.RecordHeader, cut bool) {
	order := make([]int, len(hs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ra, rb := identifying[hs[a].Key], identifying[hs[b].Key]
		if ra == 0 {
			ra = len(identifying) + 1
		}
		if rb == 0 {
			rb = len(identifying) + 1
		}
		return cmp.Compare(ra, rb)
	})
	budget := MaxAttributesBytes + MaxAttributeBytes
	out = make([]kgo.RecordHeader, 0, len(hs))
	for _, i := range order {
		h := hs[i]
		if len(h.Key) > maxHeaderName {
			cut = true
			continue
		}
		if len(h.Value) > MaxAttributeBytes {
			h.Value, cut = cutBytes(h.Value, MaxAttributeBytes), true
		}
		if len(h.Key)+len(h.Value) > budget {
			cut = true
			continue
		}
		budget -= len(h.Key) + len(h.Value)
		out = append(out, h)
	}
	return out, cut
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
