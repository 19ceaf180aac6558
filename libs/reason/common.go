package reason

// Reasons every service may answer over HTTP (libs/httperror).
const (
	NotFound         ID = "not_found"          // no route has the path
	MethodNotAllowed ID = "method_not_allowed" // the path exists, not with this method
	Internal         ID = "internal"           // a bug or an unexpected failure; the log says more
	Unavailable      ID = "unavailable"        // a dependency is down or the service is overloaded; retry later
)

// Common is the catalog of the reasons every service shares.
func Common() Catalog {
	return Catalog{
		{ID: NotFound, Status: 404, Doc: "no route has the request's path"},
		{ID: MethodNotAllowed, Status: 405, Doc: "the path exists, but not with the request's method (see the Allow header)"},
		{ID: Unavailable, Status: 503, Doc: "a dependency is down or the service is overloaded: retry after Retry-After"},
		{ID: Internal, Status: 500, Doc: "a bug or an unexpected failure; the service's log has the details"},
	}
}
