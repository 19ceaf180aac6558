package httpapi

import (
	"encoding/json"
	"strconv"
)

// appendBatchResponse appends r as json.Marshal encodes it, without
// reflection: a batch's answer holds a result for each of its events.
// TestAppendBatchResponseEqualsMarshal compares the two.
func appendBatchResponse(b []byte, r *BatchResponse) []byte {
	b = append(b, '{')
	if r.Error != "" {
		b = append(b, `"error":`...)
		b = appendString(b, r.Error)
		b = append(b, ',')
	}
	if r.Reason != "" {
		b = append(b, `"reason":`...)
		b = appendString(b, string(r.Reason))
		b = append(b, ',')
	}
	b = append(b, `"accepted":`...)
	b = strconv.AppendInt(b, int64(r.Accepted), 10)
	b = append(b, `,"duplicate":`...)
	b = strconv.AppendInt(b, int64(r.Duplicate), 10)
	b = append(b, `,"rejected":`...)
	b = strconv.AppendInt(b, int64(r.Rejected), 10)
	b = append(b, `,"unavailable":`...)
	b = strconv.AppendInt(b, int64(r.Unavailable), 10)
	b = append(b, `,"results":`...)
	if r.Results == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Results {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendResult(b, &r.Results[i])
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// batchResponseSize is about the size of r's encoding (exact for plain
// strings), for its buffer.
func batchResponseSize(r *BatchResponse) int {
	n := 128 + len(r.Error) + len(r.Reason)
	for i := range r.Results {
		res := &r.Results[i]
		n += 40 + len(res.ID) + len(res.Status) + len(res.Reason) + len(res.Error)
	}
	return n
}

func appendResult(b []byte, r *Result) []byte {
	b = append(b, '{')
	if r.ID != "" {
		b = append(b, `"id":`...)
		b = appendString(b, r.ID)
		b = append(b, ',')
	}
	b = append(b, `"status":`...)
	b = appendString(b, string(r.Status))
	if r.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, string(r.Reason))
	}
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, r.Error)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string: as is when it is printable
// ASCII that encoding/json does not escape, else as json.Marshal writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
