// Package reason holds the stable ids of rejections: why an input was
// refused, in the same words everywhere it shows — the "reason" of an HTTP
// error body (libs/httperror), the tributary_reason header of a dead-letter
// record (libs/deadletter) and the reason label of a service's rejection
// metric.
//
// An ID is snake_case ASCII and never renamed once released; a service adds
// new ones. Each service lists its ids in a Catalog, with the HTTP status and
// whether a rejection is dead-lettered, so its README table and its tests
// come from one list:
//
//	var Reasons = reason.Catalog{
//		{ID: ReasonMalformedJSON, Status: http.StatusBadRequest, DeadLettered: true, Doc: "the body is not JSON"},
//	}
//
// and a test in the service calls Reasons.Validate().
package reason
