package httpapi

import (
	"mime"
	"strings"
	"time"
	"unsafe"

	ce "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/tributary-ml/tributary/services/ingest/internal/jsonscan"
)

// fastAttr is one attribute decodeFast reads.
type fastAttr uint8

const (
	attrSpecVersion fastAttr = 1 << iota
	attrID
	attrSource
	attrType
	attrSubject
	attrTime
	attrDataContentType
	attrData
)

// attrOf returns the attribute a member name is, or 0 for an extension (a
// switch, which compiles to comparisons by length and bytes: a map lookup
// hashed each name).
func attrOf(name []byte) fastAttr {
	switch string(name) {
	case "specversion":
		return attrSpecVersion
	case "id":
		return attrID
	case "source":
		return attrSource
	case "type":
		return attrType
	case "subject":
		return attrSubject
	case "time":
		return attrTime
	case "datacontenttype":
		return attrDataContentType
	case "data":
		return attrData
	}
	return 0
}

// decodeFast decodes the common structured event — CloudEvents 1.0, every
// attribute and extension a plain string (printable ASCII, no escapes),
// JSON data, no dataschema or data_base64, no member twice — straight into
// the event sdk-go's UnmarshalJSON makes of it, without its iterator, the
// copy of the data (the event's data is a sub-slice of raw) or the
// extension map of unknown values. The attributes' strings share raw's
// memory too (a request's body is never written once read, and is kept
// only while its events are). ok is false for any other event, which
// then takes sdk-go's decoder: decodeFast covers less, never differently
// (FuzzDecodeFast compares the two). raw must be valid JSON.
//
// source is the event's source as sdk-go formats it (e.Source()), which
// memo, when not nil, keeps for the next event: the events of a batch
// mostly share their source, and then it is parsed and formatted once.
func decodeFast(raw []byte, memo *sourceMemo) (e *ce.Event, source string, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, "", false
	}
	var (
		seen fastAttr
		data []byte
	)
	fe := memo.event() // the event and its context, one allocation or none
	c := &fe.c
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil, "", false
	}
	for {
		key, next, ok := plainString(raw, i)
		if !ok {
			return nil, "", false
		}
		i = skipSpace(raw, next)
		if i >= len(raw) || raw[i] != ':' {
			return nil, "", false
		}
		colon := i
		i = skipSpace(raw, i+1)
		attr := attrOf(key)
		if attr != 0 && seen&attr != 0 {
			return nil, "", false
		}
		seen |= attr
		if attr == attrData {
			if i >= len(raw) || raw[i] == 'n' { // null data: left to sdk-go
				return nil, "", false
			}
			end := skipValid(raw, i)
			// sdk-go keeps the blanks between the colon and the value.
			data, i = raw[colon+1:end:end], end
		} else {
			v, next, ok := plainString(raw, i)
			if !ok || len(v) == 0 {
				return nil, "", false
			}
			i = next
			s := alias(v)
			switch attr {
			case attrSpecVersion:
				if s != ce.VersionV1 {
					return nil, "", false
				}
			case attrID:
				c.ID = s
			case attrType:
				c.Type = s
			case attrSource:
				if memo != nil && memo.raw != "" && memo.raw == s {
					c.Source, source = memo.uri, memo.formatted
					break
				}
				u := types.ParseURIRef(s)
				if u == nil {
					return nil, "", false
				}
				c.Source, source = *u, u.String()
				if memo != nil {
					memo.raw, memo.uri, memo.formatted = s, *u, source
				}
			case attrSubject:
				fe.subject = s
				c.Subject = &fe.subject
			case attrTime:
				t, err := time.Parse(time.RFC3339Nano, s) // = types.ParseTimestamp
				if err != nil {
					return nil, "", false
				}
				fe.time = types.Timestamp{Time: t}
				c.Time = &fe.time
			case attrDataContentType:
				fe.contentType = s
				c.DataContentType = &fe.contentType
			default:
				if _, dup := c.Extensions[string(key)]; dup {
					return nil, "", false // refused by event.DecodeStructured
				}
				if !extensionName(key) || c.SetExtension(alias(key), s) != nil {
					return nil, "", false
				}
			}
		}
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return nil, "", false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			if seen&(attrSpecVersion|attrID|attrSource|attrType) != attrSpecVersion|attrID|attrSource|attrType {
				return nil, "", false
			}
			if data != nil {
				if !dataJSON(c) {
					return nil, "", false // sdk-go reads such data as a JSON string
				}
			}
			fe.e.Context = c
			fe.e.DataEncoded = data
			return &fe.e, source, true
		default:
			return nil, "", false
		}
	}
}

// fastEvent is an event decodeFast makes, its context and what the
// context points to.
type fastEvent struct {
	e                    ce.Event
	c                    ce.EventContextV1
	time                 types.Timestamp
	subject, contentType string
}

// sourceMemo is the last source decodeFast parsed (raw), its URI and that
// URI formatted; and events, room for the batch's events, made in one
// allocation.
type sourceMemo struct {
	raw       string
	uri       types.URIRef
	formatted string
	events    []fastEvent
}

// event returns a new event's room: the next of m's events, else a new
// one (also for a nil m).
func (m *sourceMemo) event() *fastEvent {
	if m == nil || len(m.events) == 0 {
		return new(fastEvent)
	}
	fe := &m.events[0]
	m.events = m.events[1:]
	return fe
}

// validFast is e.Validate() == nil for an event decodeFast made, whose
// formatted source is source: sdk-go's checks of a CloudEvents 1.0
// context (id, source and type not blank; datacontenttype, when present,
// not blank and a media type; subject, when present, not blank), without
// formatting the source again or building the error map. An event that
// carries what decodeFast never makes (a dataschema, field errors) is
// left to Validate. FuzzDecodeFast compares the two.
func validFast(e *ce.Event, source string) bool {
	c, ok := e.Context.(*ce.EventContextV1)
	if !ok || c == nil || c.DataSchema != nil || len(e.FieldErrors) > 0 {
		return e.Validate() == nil
	}
	if blank(c.ID) || blank(source) || blank(c.Type) || (c.Subject != nil && blank(*c.Subject)) {
		return false
	}
	if c.DataContentType != nil {
		ct := strings.TrimSpace(*c.DataContentType)
		if ct == "" {
			return false
		}
		if ct != ce.ApplicationJSON {
			if _, _, err := mime.ParseMediaType(ct); err != nil {
				return false
			}
		}
	}
	return true
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// alias returns b's bytes as a string without copying them.
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// plainString reads the string at raw[i] when it is printable ASCII without
// escapes; v is a sub-slice of raw.
func plainString(raw []byte, i int) (v []byte, next int, ok bool) {
	if i >= len(raw) || raw[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(raw); j++ {
		switch c := raw[j]; {
		case c == '"':
			return raw[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, j, false
		}
	}
	return nil, len(raw), false
}

// extensionName reports whether name is lowercase letters and digits, the
// names that sdk-go keeps as they are.
func extensionName(name []byte) bool {
	for _, c := range name {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return len(name) > 0
}

// dataJSON reports whether sdk-go keeps the structured data of an event
// with this context as JSON; the common application/json without
// parameters needs no parse of the media type.
func dataJSON(c *ce.EventContextV1) bool {
	if c.DataContentType == nil || *c.DataContentType == ce.ApplicationJSON {
		return true
	}
	mt, _ := c.GetDataMediaType()
	return sdkJSON(mt)
}

// sdkJSON is sdk-go's test of a media type whose structured data is kept
// as JSON (data of any other is decoded as a JSON string).
func sdkJSON(mt string) bool {
	switch mt {
	case "", "application/json", "text/json", ce.ApplicationCloudEventsJSON, ce.ApplicationCloudEventsBatchJSON:
		return true
	}
	return false
}

// skipValid returns the end of the value at b[i] in valid JSON, without
// checking it again.
func skipValid(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = jsonscan.ClosingQuote(b, i+1)
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // a scalar ended at the end of its parent
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}
