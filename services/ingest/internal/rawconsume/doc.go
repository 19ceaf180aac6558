// Package rawconsume is the ingest path for producers that write to Kafka
// directly: a consumer group reads the raw topics tributary.ingest.<stream>
// (CloudEvents in the Kafka binding), hands each record to intake like an
// HTTP event, and commits the offsets of a poll only once every record of
// it is on its stream's topic or on the dead-letter topic. A record that
// does not decode gets its reason from the type of the decoder's error
// (Classify), and its dead letter the record's own topic, partition and
// offset as origin.
package rawconsume
