// Package streams keeps the live set of stream definitions of the ingest
// service: the built-in label stream, the files of schemas/streams/ and the
// values of the NATS KV bucket tributary_schemas, which it watches so that a
// new or changed stream is live without a restart.
//
// A stream goes live only once its topics (tributary.events.<stream> and
// tributary.ingest.<stream>) exist. A KV value overrides a file of the same
// name; a definition that does not parse, or whose type another stream has
// already, is refused and logged, and the previous definition stays.
package streams
