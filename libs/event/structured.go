package event

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	ce "github.com/cloudevents/sdk-go/v2/event"

	"github.com/tributary-ml/tributary/libs/jsondoc"
)

// DecodeStructured decodes one event in the JSON event format (structured
// content mode), as sdk-go's Event.UnmarshalJSON does, but strictly where
// sdk-go is lenient or wrong:
//
//   - a member name other than lower-case letters and digits (and
//     data_base64) is an error: sdk-go lower-cases an extension name, so
//     "MyExt" and "myext" became one;
//   - a member given twice is an error wrapping jsondoc.ErrDuplicateKey
//     (sdk-go kept the last, while a consumer may read the first), and so
//     are data and data_base64 together;
//   - data_base64 is read as any JSON string: sdk-go refused one with
//     blanks before it ("data_base64": "AAE=") or with escapes ("\/"),
//     which standard encoders write;
//   - data that sdk-go refuses for a number float64 cannot hold is
//     reported as such, a *jsondoc.Error wrapping jsondoc.ErrNumberRange
//     (sdk-go said "readNumberAsString: invalid number");
//   - an attribute or extension value that is not UTF-8 is an error (sdk-go
//     took the bytes as they were, and neither the Kafka nor the NATS
//     binding can carry them).
//
// Other errors are sdk-go's. Errors wrap ErrInvalidEvent.
func DecodeStructured(raw []byte) (*ce.Event, error) {
	fixed, data, err := checkMembers(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	var e ce.Event
	if err := e.UnmarshalJSON(fixed); err != nil {
		var refused *jsondoc.Error
		if data != nil {
			if _, derr := jsondoc.Parse(data); errors.As(derr, &refused) {
				return nil, fmt.Errorf("%w: data: %w", ErrInvalidEvent, refused)
			}
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	if err := checkUTF8(&e); err != nil {
		return nil, err
	}
	return &e, nil
}

// checkMembers checks the member names of the event object in raw and
// returns raw with data_base64's value rewritten as plain base64 right
// after its colon, the one form sdk-go decodes, and the data member's
// value. A raw that is no JSON object is returned as it is, for sdk-go to
// refuse in its words.
func checkMembers(raw []byte) (fixed, data []byte, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return raw, nil, nil
	}
	seen := map[string]bool{}
	var b64Start, b64End int
	var b64 []byte
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return raw, nil, nil
		}
		name, _ := tok.(string)
		colon := int(dec.InputOffset())
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return raw, nil, nil
		}
		if seen[name] {
			return nil, nil, &jsondoc.Error{Pointer: "/" + name, Err: jsondoc.ErrDuplicateKey, Detail: fmt.Sprintf("attribute %q given twice", cut(name))}
		}
		seen[name] = true
		if name == "data" {
			data = v
		}
		if name != "data_base64" && !validName(name) {
			return nil, nil, fmt.Errorf("attribute name %q: CloudEvents attribute and extension names are lower-case letters (a-z) and digits", cut(name))
		}
		if name == "data_base64" && !bytes.Equal(v, []byte("null")) {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, nil, fmt.Errorf("data_base64: not a JSON string")
			}
			data, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, nil, fmt.Errorf("data_base64: not base64: %v", err)
			}
			b64Start, b64End = colon, int(dec.InputOffset())
			b64 = fmt.Appendf(nil, "%q", base64.StdEncoding.EncodeToString(data))
		}
	}
	if seen["data"] && seen["data_base64"] {
		return nil, nil, &jsondoc.Error{Pointer: "/data_base64", Err: jsondoc.ErrDuplicateKey, Detail: "data and data_base64 both given"}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return raw, data, nil
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("data after the event") // sdk-go ignores it
	}
	if b64 == nil {
		return raw, data, nil
	}
	// raw[b64Start] is the colon (the decoder's offset after the name).
	for b64Start < len(raw) && raw[b64Start] != ':' {
		b64Start++
	}
	out := make([]byte, 0, len(raw)+len(b64))
	out = append(out, raw[:b64Start+1]...)
	out = append(out, b64...)
	return append(out, raw[b64End:]...), data, nil
}

// validName reports whether name is a CloudEvents attribute name:
// lower-case ASCII letters and digits.
func validName(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return name != ""
}

func cut(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
