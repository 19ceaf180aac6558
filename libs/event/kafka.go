package event

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka header names of the CloudEvents Kafka protocol binding.
const (
	// KafkaHeaderPrefix prefixes the header of every attribute and
	// extension but datacontenttype: ce_id, ce_source, ce_traceparent.
	KafkaHeaderPrefix = "ce_"
	// KafkaContentTypeHeader carries datacontenttype in binary mode and the
	// event format in structured mode.
	KafkaContentTypeHeader = "content-type"
)

// kafkaSpecs resolves prefixed header names to attributes. It is read-only.
var kafkaSpecs = spec.WithPrefix(KafkaHeaderPrefix)

// KafkaMessage is a binding.Message that reads a CloudEvent from a franz-go
// record, in binary content mode (ce_ headers, the content-type header, data
// as the value) or in structured mode (content-type
// application/cloudevents+json, the JSON event as the value). It can be read
// several times and does not modify the record.
type KafkaMessage struct {
	rec      *kgo.Record
	encoding binding.Encoding
	version  spec.Version  // binary mode
	format   format.Format // structured mode
	err      error         // why the encoding is unknown
}

var (
	_ binding.Message               = (*KafkaMessage)(nil)
	_ binding.MessageMetadataReader = (*KafkaMessage)(nil)
)

// NewKafkaMessage wraps a record. Err reports a record that holds no
// CloudEvent this package reads.
func NewKafkaMessage(r *kgo.Record) *KafkaMessage {
	m := &KafkaMessage{rec: r, encoding: binding.EncodingUnknown}
	var contentType, specVersion string
	var hasContentType, hasSpecVersion bool
	for _, h := range r.Headers {
		switch {
		case strings.EqualFold(h.Key, KafkaContentTypeHeader):
			contentType, hasContentType = string(h.Value), true
		case strings.EqualFold(h.Key, KafkaHeaderPrefix+"specversion"):
			specVersion, hasSpecVersion = string(h.Value), true
		}
	}
	switch {
	case hasContentType && isStructured(contentType):
		if mediaType(contentType) != ce.ApplicationCloudEventsJSON {
			m.err = fmt.Errorf("%w: unsupported event format %q", ErrNotCloudEvent, contentType)
			return m
		}
		m.encoding, m.format = binding.EncodingStructured, format.JSON
	case hasSpecVersion:
		if specVersion != specVersion10 {
			m.err = fmt.Errorf("%w %q (want %s)", ErrUnsupportedSpecVersion, specVersion, specVersion10)
			return m
		}
		m.encoding, m.version = binding.EncodingBinary, kafkaSpecs.Version(specVersion10)
	default:
		m.err = fmt.Errorf("%w: no %sspecversion header and content type %q", ErrNotCloudEvent, KafkaHeaderPrefix, contentType)
	}
	return m
}

// Err returns nil when the record holds a CloudEvent in a mode this package
// reads, else why not (wrapping ErrNotCloudEvent or
// ErrUnsupportedSpecVersion).
func (m *KafkaMessage) Err() error { return m.err }

// ReadEncoding implements binding.MessageReader.
func (m *KafkaMessage) ReadEncoding() binding.Encoding { return m.encoding }

// ReadStructured implements binding.MessageReader.
func (m *KafkaMessage) ReadStructured(ctx context.Context, w binding.StructuredWriter) error {
	if m.encoding != binding.EncodingStructured {
		return binding.ErrNotStructured
	}
	return w.SetStructuredEvent(ctx, m.format, bytes.NewReader(m.rec.Value))
}

// ReadBinary implements binding.MessageReader. Header names are matched
// case-insensitively; a repeated attribute with different values and a
// header value that is not UTF-8 are errors.
func (m *KafkaMessage) ReadBinary(_ context.Context, w binding.BinaryWriter) error {
	if m.encoding != binding.EncodingBinary {
		return binding.ErrNotBinary
	}
	seen := make(map[string]string, len(m.rec.Headers))
	for _, h := range m.rec.Headers {
		key := strings.ToLower(h.Key)
		var name string
		var attr spec.Attribute
		switch {
		case key == KafkaContentTypeHeader:
			name, attr = "datacontenttype", m.version.AttributeFromKind(spec.DataContentType)
		case strings.HasPrefix(key, KafkaHeaderPrefix):
			name, attr = key[len(KafkaHeaderPrefix):], m.version.Attribute(key)
		default:
			continue // not ours: tracing or dead-letter headers
		}
		value := string(h.Value)
		if !utf8.ValidString(value) {
			return fmt.Errorf("%w: header %s: value is not utf-8", ErrInvalidEvent, h.Key)
		}
		if prev, dup := seen[name]; dup {
			if prev != value {
				return fmt.Errorf("%w: header %s: conflicting values for %s", ErrInvalidEvent, h.Key, name)
			}
			continue
		}
		seen[name] = value
		var err error
		if attr != nil {
			err = w.SetAttribute(attr, value)
		} else {
			err = w.SetExtension(name, value)
		}
		if err != nil {
			if slices.Contains(required[:], name) && strings.TrimSpace(value) == "" {
				return fmt.Errorf("%w: header %s: %v", ErrMissingAttribute, h.Key, err)
			}
			return fmt.Errorf("%w: header %s: %v", ErrInvalidEvent, h.Key, err)
		}
	}
	if len(m.rec.Value) > 0 {
		return w.SetData(bytes.NewReader(m.rec.Value))
	}
	return nil
}

// GetAttribute implements binding.MessageMetadataReader (binary mode only).
func (m *KafkaMessage) GetAttribute(k spec.Kind) (spec.Attribute, any) {
	if m.encoding != binding.EncodingBinary {
		return nil, nil
	}
	attr := m.version.AttributeFromKind(k)
	if attr == nil {
		return nil, nil
	}
	name := attr.PrefixedName()
	if k == spec.DataContentType {
		name = KafkaContentTypeHeader
	}
	if v, ok := m.header(name); ok {
		return attr, v
	}
	return attr, nil
}

// GetExtension implements binding.MessageMetadataReader (binary mode only).
func (m *KafkaMessage) GetExtension(name string) any {
	if m.encoding != binding.EncodingBinary {
		return nil
	}
	if v, ok := m.header(KafkaHeaderPrefix + name); ok {
		return v
	}
	return nil
}

func (m *KafkaMessage) header(name string) (string, bool) {
	for _, h := range m.rec.Headers {
		if strings.EqualFold(h.Key, name) {
			return string(h.Value), true
		}
	}
	return "", false
}

// Finish implements binding.Message; a record needs no settlement.
func (m *KafkaMessage) Finish(error) error { return nil }

// FromKafkaRecord decodes the CloudEvent in a record (binary or structured
// mode, the latter with DecodeStructured) and checks it: CloudEvents 1.0
// with every required attribute.
// Extensions decode as strings, their canonical form, since binary mode does
// not carry types.
func FromKafkaRecord(r *kgo.Record) (*ce.Event, error) {
	m := NewKafkaMessage(r)
	if m.err != nil {
		return nil, fmt.Errorf("decode kafka record: %w", m.err)
	}
	var e *ce.Event
	var err error
	if m.encoding == binding.EncodingStructured {
		e, err = DecodeStructured(r.Value) // sdk-go's format.JSON is lenient; see DecodeStructured
	} else {
		e, err = binding.ToEvent(context.Background(), m)
	}
	if err != nil {
		return nil, fmt.Errorf("decode kafka record: %w", classify(err))
	}
	if err := normalize(e); err != nil {
		return nil, fmt.Errorf("decode kafka record: %w", err)
	}
	if err := checkEvent(e); err != nil {
		return nil, fmt.Errorf("decode kafka record: %w", err)
	}
	return e, nil
}

// KafkaOption configures ToKafkaRecord.
type KafkaOption func(*kafkaOptions)

type kafkaOptions struct {
	key []byte
}

// WithKey sets the record key of an event that has no partitionkey
// extension.
func WithKey(key []byte) KafkaOption {
	return func(o *kafkaOptions) { o.key = key }
}

// ToKafkaRecord encodes e as a record for topic in binary content mode:
// attributes and extensions in ce_ headers (time in RFC 3339 with
// nanoseconds, in UTC), datacontenttype in the content-type header, data as
// the value. The key is the event's partitionkey extension when it has one,
// else the key of WithKey, else none. The event must be CloudEvents 1.0 with
// every required attribute.
func ToKafkaRecord(ctx context.Context, e ce.Event, topic string, opts ...KafkaOption) (*kgo.Record, error) {
	var o kafkaOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkEvent(&e); err != nil {
		return nil, fmt.Errorf("encode event for kafka topic %s: %w", topic, err)
	}
	rec := &kgo.Record{Topic: topic, Key: o.key}
	if err := WriteKafkaRecord(ctx, binding.ToMessage(&e), rec); err != nil {
		return nil, fmt.Errorf("encode event for kafka topic %s: %w", topic, err)
	}
	return rec, nil
}

// WriteKafkaRecord writes a binding.Message into r in binary content mode,
// whatever the mode of m (a structured message is decoded first). It
// replaces r.Headers and r.Value, and sets r.Key to the partitionkey
// extension when m has one; add other headers after it.
func WriteKafkaRecord(ctx context.Context, m binding.Message, r *kgo.Record, transformers ...binding.Transformer) error {
	w := &kafkaRecordWriter{rec: r}
	if _, err := binding.Write(ctx, m, nil, w, transformers...); err != nil {
		return err
	}
	return nil
}

// kafkaRecordWriter is the binding.BinaryWriter of WriteKafkaRecord.
type kafkaRecordWriter struct {
	rec *kgo.Record
}

var _ binding.BinaryWriter = (*kafkaRecordWriter)(nil)

func (w *kafkaRecordWriter) Start(context.Context) error {
	w.rec.Headers = make([]kgo.RecordHeader, 0, 8)
	w.rec.Value = nil
	return nil
}

func (w *kafkaRecordWriter) SetAttribute(attr spec.Attribute, value any) error {
	s, err := types.Format(value)
	if err != nil {
		return fmt.Errorf("attribute %s: %w", attr.Name(), err)
	}
	name := KafkaHeaderPrefix + attr.Name()
	if attr.Kind() == spec.DataContentType {
		name = KafkaContentTypeHeader
	}
	w.rec.Headers = append(w.rec.Headers, kgo.RecordHeader{Key: name, Value: []byte(s)})
	return nil
}

func (w *kafkaRecordWriter) SetExtension(name string, value any) error {
	s, err := types.Format(value)
	if err != nil {
		return fmt.Errorf("extension %s: %w", name, err)
	}
	w.rec.Headers = append(w.rec.Headers, kgo.RecordHeader{Key: KafkaHeaderPrefix + name, Value: []byte(s)})
	if name == partitionKeyExtension {
		w.rec.Key = []byte(s)
	}
	return nil
}

func (w *kafkaRecordWriter) SetData(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	if len(b) > 0 {
		w.rec.Value = b
	}
	return nil
}

// End sorts the headers by name, so that one event always encodes to the same
// record (extensions come from a map).
func (w *kafkaRecordWriter) End(context.Context) error {
	slices.SortFunc(w.rec.Headers, func(a, b kgo.RecordHeader) int { return strings.Compare(a.Key, b.Key) })
	return nil
}
