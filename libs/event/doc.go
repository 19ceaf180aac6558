// Package event holds Tributary's event contracts: the platform event types
// and where each travels, their payloads, the validation of event data
// against the JSON Schemas in schemas/events, and CloudEvents 1.0 on the two
// wires, Kafka and NATS, built on sdk-go's binding package.
//
// # Types and where they travel
//
// Event types are versioned, tributary.<domain>.<what>.v1 (TypeModelRegistered
// and friends; Types lists them). Labels and predictions are high-volume data
// and travel on Kafka (Topic: TopicLabels, TopicPredictions); every other
// type is a control event on NATS, published on the subject that is its type
// without the version suffix (Subject: tributary.model.registered) and kept by
// the JetStream stream StreamName, which captures StreamSubjects
// (tributary.model.>, tributary.train.>, ...). Request-reply subjects use a
// service name as their domain (tributary.registry.register), so the stream
// never captures them; InStream checks a subject.
//
// # Payloads and schemas
//
// Each type has a payload struct (LabelRecorded, ModelRegistered, ...;
// NewPayload) and a JSON Schema, draft 2020-12, embedded by the schemas module.
// Validator checks event data against it and names the failing field and
// rule; it decodes the data strictly with libs/jsondoc (no key twice, no
// number float64 cannot hold). The tests keep structs, schemas and their
// examples in step.
//
// # Structured mode
//
// DecodeStructured reads the JSON event format as sdk-go does, but refuses
// member names that are not lower-case letters and digits (sdk-go
// lower-cased them) and members given twice, and reads data_base64 as any
// JSON string (sdk-go refused blanks before it). FromKafkaRecord and
// FromNATSMsg read structured messages with it.
//
// # Kafka: binary content mode over franz-go records
//
// sdk-go has no franz-go binding, so this package implements the CloudEvents
// Kafka protocol binding over *kgo.Record. ToKafkaRecord writes binary mode:
// each attribute and extension in a ce_<name> header holding its canonical
// string (time as RFC 3339 with nanoseconds, UTC), datacontenttype in the
// content-type header, the data as the record value (no data: no value), and
// the partitionkey extension, when present, as the record key. FromKafkaRecord
// reads binary mode and also structured mode (content-type
// application/cloudevents+json). KafkaMessage and WriteKafkaRecord are the
// binding.Message reader and the writer underneath, for code that streams
// messages through sdk-go's binding.
//
// # NATS: binary mode over message headers
//
// ToNATSMsg and FromNATSMsg (FromJetStreamMsg for JetStream consumers) follow
// the binary content mode of the CloudEvents NATS protocol binding (1.0.3):
// every attribute, datacontenttype included, in a ce-<name> header whose value
// is percent-encoded (space, '"', '%' and all but printable ASCII), the data as
// the payload. Content-Type carries datacontenttype as well, unencoded, for
// tools (read only when ce-datacontenttype is absent); a Content-Type of
// application/cloudevents+json, or a bare JSON payload with neither header,
// is read as structured mode.
//
// We wrote the NATS side ourselves rather than use sdk-go's NATS protocols,
// checked at v2.16.2, the version served here: protocol/nats/v2 reads and
// writes structured mode only. protocol/nats_jetstream/v2 has binary mode, but
// it renders extension values with fmt.Sprint instead of their canonical
// string (a binary extension becomes "[1 2 3]", a URI one a Go struct dump),
// it does not percent-encode values (a space or a non-ASCII character in an
// attribute breaks the binding's header rules), its reader indexes header
// values without checking there is one, and its sender and receiver are bound
// to the legacy nats.JetStreamContext API where our services use the
// jetstream package. The mapping over nats.Header is small, so we own it and
// fuzz it.
//
// # Decoding rules
//
// Both decoders accept CloudEvents 1.0 only (ErrUnsupportedSpecVersion),
// reject a message that carries no CloudEvent (ErrNotCloudEvent) and an event
// that breaks the CloudEvents rules (ErrInvalidEvent: a missing or empty id,
// source or type, which is also ErrMissingAttribute; a bad time, an
// extension with a bad name, a header value that is not UTF-8, one
// attribute given twice with different values). Header names are
// matched case-insensitively. In binary mode extensions decode as strings,
// their canonical form, since the wire carries no types. Headers that are not
// CloudEvents headers are ignored.
//
// # Trace context
//
// InjectTrace and ExtractTrace carry the OpenTelemetry span context in the
// traceparent and tracestate extensions (the CloudEvents distributed tracing
// extension), with the propagator passed in.
package event
