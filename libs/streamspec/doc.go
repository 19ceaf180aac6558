// Package streamspec is the format of Tributary's stream definitions: what a
// producer stream is called, the CloudEvents type its events carry, the JSON
// Schema (draft 2020-12) of their data, the JSON field holding the entity key
// (the Kafka record key) and the one holding the event time (or the
// CloudEvents time attribute).
//
// Definitions are JSON documents, kept as files in schemas/streams/ and as
// values of the NATS KV bucket tributary_schemas under the stream's name.
// The ingest service validates and routes events with them; the features
// service reads the same definitions, so the format and its checks live here.
//
// Parse checks a definition and compiles its schema into a Stream; Labels is
// the built-in label stream (type tributary.label.recorded.v1, topic
// tributary.labels). Stream.Check validates an event's data and extracts its
// entity key and event time in one pass over the parsed JSON.
package streamspec
