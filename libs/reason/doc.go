// Package reason holds the stable ids of rejections: why an input was
// refused, in the same words everywhere it shows — the "reason" of an HTTP
// error body (libs/httperror), the tributary_reason header of a dead-letter
// record (libs/deadletter) and the reason label of a service's rejection
// metric.
//
// An ID is snake_case ASCII and never renamed once released; a service adds
// new ones. The ids live here, not in the services, because the readers of
// the answers and of the dead-letter topic (the cli, the monitor, the e2e
// suite) cannot import a service's internal packages. Common holds the ids
// every HTTP service answers (not_found, method_not_allowed, unavailable,
// internal); Ingest, Features and Registry each service's catalog, with the
// HTTP status and whether a refusal is dead-lettered, so a README table
// (Catalog.Markdown) and the tests come from one list. One id means one
// thing, with one status, in every catalog.
package reason
