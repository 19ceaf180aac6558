package tiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-ml/tributary/libs/featurespec"
)

// ErrBadEvent reports event data a source cannot read: not a JSON object, or
// without a usable event time.
var ErrBadEvent = errors.New("bad event data")

// DecodeData decodes event data into its top-level fields.
func DecodeData(data []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadEvent)
	}
	return m, nil
}

// EventTime returns the event time (Unix ms) a source reads from decoded
// data: the field at src.EventTime (RFC 3339), or ceTime (the CloudEvents time
// attribute, Unix ms) when the source names no field. The online and the
// offline paths both call it.
func EventTime(src featurespec.Source, fields map[string]any, ceTime int64) (int64, error) {
	if src.EventTime == "" {
		return ceTime, nil
	}
	s, ok := lookup(fields, src.EventTime).(string)
	if !ok {
		return 0, fmt.Errorf("%w: event time %s missing or not a string", ErrBadEvent, src.EventTime)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%w: event time %s: %q is not RFC 3339", ErrBadEvent, src.EventTime, s)
	}
	return t.UnixMilli(), nil
}

func lookup(doc map[string]any, pointer string) any {
	var cur any = doc
	for _, tok := range strings.Split(pointer, "/")[1:] {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// NewEvent builds the Event of a source from raw data.
func NewEvent(src featurespec.Source, data []byte, ceTime int64, seq Seq) (Event, error) {
	fields, err := DecodeData(bytes.TrimSpace(data))
	if err != nil {
		return Event{}, err
	}
	t, err := EventTime(src, fields, ceTime)
	if err != nil {
		return Event{}, err
	}
	return Event{Time: t, Seq: seq, Fields: fields}, nil
}
