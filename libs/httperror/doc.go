// Package httperror is the one body of every HTTP error answer of
// Tributary's services, and its decoder for clients (the cli, the e2e
// suite, a service calling another).
//
// An error answer has a 4xx or 5xx status, Content-Type application/json
// and this body:
//
//	{
//	  "error":   "data.amount: must be >= 0",   // the human message, always set
//	  "reason":  "schema_violation",            // the stable id (libs/reason), always set
//	  "details": [                              // optional: one entry per problem
//	    {"field": "data.amount", "reason": "minimum", "message": "must be >= 0"}
//	  ]
//	}
//
// "error" is a string so the body is also the error answer of the Open
// Inference Protocol (KServe v2: {"error": "<message>"}); clients of that
// protocol read "error" and ignore the rest. "reason" is the id a program
// branches on — it is never renamed, and it is the reason label of the
// service's metrics and, for a refused event, the tributary_reason header of
// its dead-letter record (libs/deadletter). Fields may be added; clients
// ignore fields they do not know.
//
// Requests that match no route get the same body: 404 with reason
// "not_found", or 405 with reason "method_not_allowed" and an Allow header
// (Unmatched). A body of an answer that is not this envelope (a proxy's
// HTML page) decodes to an *Error with the status, no reason and the start
// of the text.
package httperror
