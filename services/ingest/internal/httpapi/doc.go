// Package httpapi is the ingest service's HTTP API: POST /v1/events takes
// one CloudEvent in structured or binary mode, or a batch, checks the
// producer's API key and hands the events to intake, answering only once
// Kafka has them (see the service README for the status codes). Every
// error answer is the body of libs/httperror; a batch's 207 and 503 report
// each event with the same fields (error, reason).
package httpapi
