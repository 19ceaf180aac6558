package event

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS header names of the CloudEvents NATS protocol binding (binary mode).
const (
	// NATSHeaderPrefix prefixes the header of every attribute and
	// extension, datacontenttype included: ce-id, ce-datacontenttype.
	NATSHeaderPrefix = "ce-"
	// NATSContentTypeHeader tells structured from binary mode; in binary
	// mode ToNATSMsg also sets it to datacontenttype, for tools.
	NATSContentTypeHeader = "Content-Type"
)

var natsSpecs = spec.WithPrefix(NATSHeaderPrefix)

// NATSMessage is a binding.Message that reads a CloudEvent from a NATS
// message: binary mode (ce- headers with percent-encoded values, data as the
// payload), or structured mode when the Content-Type header is
// application/cloudevents+json, or when there is neither a ce-specversion nor
// a Content-Type header and the payload is a JSON object (what sdk-go's NATS
// sender and senders before NATS 2.2 send). It does not modify the message.
type NATSMessage struct {
	header   nats.Header
	data     []byte
	encoding binding.Encoding
	version  spec.Version
	guessed  bool // structured mode assumed from a bare JSON payload
	err      error
}

var (
	_ binding.Message               = (*NATSMessage)(nil)
	_ binding.MessageMetadataReader = (*NATSMessage)(nil)
)

// NewNATSMessage wraps a NATS message. Err reports one that holds no
// CloudEvent this package reads.
func NewNATSMessage(msg *nats.Msg) *NATSMessage {
	return newNATSMessage(msg.Header, msg.Data)
}

func newNATSMessage(h nats.Header, data []byte) *NATSMessage {
	m := &NATSMessage{header: h, data: data, encoding: binding.EncodingUnknown}
	contentType, hasContentType := headerValue(h, NATSContentTypeHeader)
	specVersion, hasSpecVersion := headerValue(h, NATSHeaderPrefix+"specversion")
	switch {
	case hasContentType && isStructured(contentType):
		if mediaType(contentType) != ce.ApplicationCloudEventsJSON {
			m.err = fmt.Errorf("%w: unsupported event format %q", ErrNotCloudEvent, contentType)
			return m
		}
		m.encoding = binding.EncodingStructured
	case hasSpecVersion:
		v, err := decodeHeaderValue(specVersion)
		if err != nil {
			m.err = fmt.Errorf("%w: header %sspecversion: %v", ErrInvalidEvent, NATSHeaderPrefix, err)
			return m
		}
		if v != specVersion10 {
			m.err = fmt.Errorf("%w %q (want %s)", ErrUnsupportedSpecVersion, v, specVersion10)
			return m
		}
		m.encoding, m.version = binding.EncodingBinary, natsSpecs.Version(specVersion10)
	case !hasContentType && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")):
		m.encoding, m.guessed = binding.EncodingStructured, true
	default:
		m.err = fmt.Errorf("%w: no %sspecversion header, content type %q", ErrNotCloudEvent, NATSHeaderPrefix, contentType)
	}
	return m
}

// headerValue finds a header case-insensitively (NATS header names are
// case-insensitive, nats.Header is not) and returns its first value.
func headerValue(h nats.Header, name string) (string, bool) {
	if vs, ok := h[name]; ok && len(vs) > 0 {
		return vs[0], true
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}

// Err returns nil when the message holds a CloudEvent in a mode this package
// reads, else why not.
func (m *NATSMessage) Err() error { return m.err }

// ReadEncoding implements binding.MessageReader.
func (m *NATSMessage) ReadEncoding() binding.Encoding { return m.encoding }

// ReadStructured implements binding.MessageReader.
func (m *NATSMessage) ReadStructured(ctx context.Context, w binding.StructuredWriter) error {
	if m.encoding != binding.EncodingStructured {
		return binding.ErrNotStructured
	}
	return w.SetStructuredEvent(ctx, format.JSON, bytes.NewReader(m.data))
}

// ReadBinary implements binding.MessageReader. Header names are matched
// case-insensitively; values are percent-decoded. A header with several
// values, a repeated attribute with different values and a value that does
// not decode to UTF-8 are errors. ce-datacontenttype wins over Content-Type.
func (m *NATSMessage) ReadBinary(_ context.Context, w binding.BinaryWriter) error {
	if m.encoding != binding.EncodingBinary {
		return binding.ErrNotBinary
	}
	seen := make(map[string]string, len(m.header))
	var contentType string
	var hasContentType bool
	for k, vs := range m.header {
		key := strings.ToLower(k)
		isContentType := key == strings.ToLower(NATSContentTypeHeader)
		if len(vs) == 0 || (!isContentType && !strings.HasPrefix(key, NATSHeaderPrefix)) {
			continue // not ours: Nats-Msg-Id, tracing headers, ...
		}
		if len(vs) > 1 {
			return fmt.Errorf("%w: header %s has %d values", ErrInvalidEvent, k, len(vs))
		}
		if isContentType {
			contentType, hasContentType = vs[0], true
			continue
		}
		value, err := decodeHeaderValue(vs[0])
		if err != nil {
			return fmt.Errorf("%w: header %s: %v", ErrInvalidEvent, k, err)
		}
		name := key[len(NATSHeaderPrefix):]
		if prev, dup := seen[name]; dup {
			if prev != value {
				return fmt.Errorf("%w: header %s: conflicting values for %s", ErrInvalidEvent, k, name)
			}
			continue
		}
		seen[name] = value
		if attr := m.version.Attribute(key); attr != nil {
			err = w.SetAttribute(attr, value)
		} else {
			err = w.SetExtension(name, value)
		}
		if err != nil {
			return fmt.Errorf("%w: header %s: %v", ErrInvalidEvent, k, err)
		}
	}
	if _, ok := seen["datacontenttype"]; !ok && hasContentType {
		if !utf8.ValidString(contentType) {
			return fmt.Errorf("%w: header %s: value is not utf-8", ErrInvalidEvent, NATSContentTypeHeader)
		}
		if err := w.SetAttribute(m.version.AttributeFromKind(spec.DataContentType), contentType); err != nil {
			return fmt.Errorf("%w: header %s: %v", ErrInvalidEvent, NATSContentTypeHeader, err)
		}
	}
	if len(m.data) > 0 {
		return w.SetData(bytes.NewReader(m.data))
	}
	return nil
}

// GetAttribute implements binding.MessageMetadataReader (binary mode only).
func (m *NATSMessage) GetAttribute(k spec.Kind) (spec.Attribute, any) {
	if m.encoding != binding.EncodingBinary {
		return nil, nil
	}
	attr := m.version.AttributeFromKind(k)
	if attr == nil {
		return nil, nil
	}
	if raw, ok := headerValue(m.header, attr.PrefixedName()); ok {
		if v, err := decodeHeaderValue(raw); err == nil {
			return attr, v
		}
	}
	return attr, nil
}

// GetExtension implements binding.MessageMetadataReader (binary mode only).
func (m *NATSMessage) GetExtension(name string) any {
	if m.encoding != binding.EncodingBinary {
		return nil
	}
	if raw, ok := headerValue(m.header, NATSHeaderPrefix+name); ok {
		if v, err := decodeHeaderValue(raw); err == nil {
			return v
		}
	}
	return nil
}

// Finish implements binding.Message; acknowledging is the caller's business.
func (m *NATSMessage) Finish(error) error { return nil }

// FromNATSMsg decodes the CloudEvent in a NATS message (binary or structured
// mode) and checks it: CloudEvents 1.0 with every required attribute.
// Extensions decode as strings, their canonical form.
func FromNATSMsg(msg *nats.Msg) (*ce.Event, error) {
	return fromNATS(msg.Header, msg.Data)
}

// FromJetStreamMsg decodes the CloudEvent in a message consumed from a
// JetStream stream, like FromNATSMsg.
func FromJetStreamMsg(msg jetstream.Msg) (*ce.Event, error) {
	return fromNATS(msg.Headers(), msg.Data())
}

func fromNATS(h nats.Header, data []byte) (*ce.Event, error) {
	m := newNATSMessage(h, data)
	if m.err != nil {
		return nil, fmt.Errorf("decode nats message: %w", m.err)
	}
	var e *ce.Event
	var err error
	if m.encoding == binding.EncodingStructured {
		e, err = DecodeStructured(data) // sdk-go's format.JSON is lenient; see DecodeStructured
	} else {
		e, err = binding.ToEvent(context.Background(), m)
	}
	if err != nil {
		if m.guessed {
			// No header said this was a CloudEvent; the payload is not one.
			return nil, fmt.Errorf("decode nats message: %w: payload is not a structured event: %v", ErrNotCloudEvent, err)
		}
		return nil, fmt.Errorf("decode nats message: %w", classify(err))
	}
	if err := normalize(e); err != nil {
		return nil, fmt.Errorf("decode nats message: %w", err)
	}
	if err := checkEvent(e); err != nil {
		return nil, fmt.Errorf("decode nats message: %w", err)
	}
	return e, nil
}

// ToNATSMsg encodes e as a NATS message on subject in binary mode: every
// attribute and extension in a ce- header with its canonical string
// percent-encoded as the binding specifies (time in RFC 3339 with
// nanoseconds, in UTC), datacontenttype also in Content-Type (unencoded, when
// printable ASCII), data as the payload. The event must be CloudEvents 1.0 with every required attribute,
// and its string values UTF-8.
func ToNATSMsg(e ce.Event, subject string) (*nats.Msg, error) {
	if subject == "" {
		return nil, errors.New("encode event for nats: empty subject")
	}
	if err := checkEvent(&e); err != nil {
		return nil, fmt.Errorf("encode event for nats subject %s: %w", subject, err)
	}
	msg := nats.NewMsg(subject)
	if err := WriteNATSMsg(context.Background(), binding.ToMessage(&e), msg); err != nil {
		return nil, fmt.Errorf("encode event for nats subject %s: %w", subject, err)
	}
	return msg, nil
}

// WriteNATSMsg writes a binding.Message into msg in binary mode, whatever the
// mode of m. It replaces msg.Header and msg.Data; add other headers after
// it.
func WriteNATSMsg(ctx context.Context, m binding.Message, msg *nats.Msg, transformers ...binding.Transformer) error {
	w := &natsMsgWriter{msg: msg}
	if _, err := binding.Write(ctx, m, nil, w, transformers...); err != nil {
		return err
	}
	return nil
}

// natsMsgWriter is the binding.BinaryWriter of WriteNATSMsg.
type natsMsgWriter struct {
	msg *nats.Msg
}

var _ binding.BinaryWriter = (*natsMsgWriter)(nil)

func (w *natsMsgWriter) Start(context.Context) error {
	w.msg.Header = nats.Header{}
	w.msg.Data = nil
	return nil
}

func (w *natsMsgWriter) set(name string, value any) error {
	s, err := types.Format(value)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s: value is not utf-8", ErrInvalidEvent, name)
	}
	w.msg.Header.Set(NATSHeaderPrefix+name, encodeHeaderValue(s))
	return nil
}

func (w *natsMsgWriter) SetAttribute(attr spec.Attribute, value any) error {
	if err := w.set(attr.Name(), value); err != nil {
		return fmt.Errorf("attribute %w", err)
	}
	if attr.Kind() == spec.DataContentType {
		// Content-Type is an ordinary header, for tools: the value as is,
		// when it is printable ASCII (media types almost always are).
		if ct, err := types.Format(value); err == nil && printableASCII(ct) {
			w.msg.Header.Set(NATSContentTypeHeader, ct)
		}
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func (w *natsMsgWriter) SetExtension(name string, value any) error {
	if err := w.set(name, value); err != nil {
		return fmt.Errorf("extension %w", err)
	}
	return nil
}

func (w *natsMsgWriter) SetData(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	if len(b) > 0 {
		w.msg.Data = b
	}
	return nil
}

func (w *natsMsgWriter) End(context.Context) error { return nil }

// encodeHeaderValue percent-encodes a header value as the NATS binding
// specifies: space, double quote, percent and every byte outside printable
// ASCII (0x21-0x7E) become %XX of their UTF-8 bytes.
func encodeHeaderValue(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b = append(b, '%', hex[c>>4], hex[c&0xF])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func needsEscape(c byte) bool {
	return c <= ' ' || c >= 0x7F || c == '"' || c == '%'
}

// decodeHeaderValue undoes encodeHeaderValue. Like the binding asks, it first
// unquotes a double-quoted value (older senders), then performs one round of
// percent-decoding, accepting lower-case hex and needlessly encoded
// characters, and rejects a result that is not UTF-8.
func decodeHeaderValue(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var err error
		if s, err = unquote(s[1 : len(s)-1]); err != nil {
			return "", err
		}
	}
	if strings.IndexByte(s, '%') < 0 {
		if !utf8.ValidString(s) {
			return "", errors.New("value is not utf-8")
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("truncated percent-encoding")
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("bad percent-encoding %q", s[i:i+3])
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	if !utf8.Valid(b) {
		return "", errors.New("percent-decoded value is not utf-8")
	}
	return string(b), nil
}

// unquote resolves the backslash escapes of an HTTP quoted-string body.
func unquote(s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		if strings.IndexByte(s, '"') >= 0 {
			return "", errors.New("unescaped double quote in quoted value")
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) {
				return "", errors.New("trailing backslash in quoted value")
			}
			i++
			b = append(b, s[i])
		case '"':
			return "", errors.New("unescaped double quote in quoted value")
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
