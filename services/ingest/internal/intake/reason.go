package intake

import "net/http"

// Reason is the stable id of a rejection: it is in the HTTP answer, in the
// tributary_reason header of the dead-letter record and in the reason label
// of tributary_ingest_events_total. Never rename one; add new ones.
type Reason string

// Rejection reasons.
const (
	ReasonMalformedJSON          Reason = "malformed_json"                // the body or event is not JSON of the right shape
	ReasonMissingAttribute       Reason = "missing_attribute"             // id, source, type or specversion is missing
	ReasonInvalidAttribute       Reason = "invalid_attribute"             // an attribute or extension breaks the CloudEvents rules
	ReasonUnsupportedSpecVersion Reason = "unsupported_specversion"       // specversion is not 1.0
	ReasonNotCloudEvent          Reason = "not_cloudevent"                // a raw Kafka record without CloudEvents headers
	ReasonUnknownType            Reason = "unknown_type"                  // no stream has the event's type
	ReasonStreamMismatch         Reason = "stream_mismatch"               // a raw record's type belongs to another stream than its topic
	ReasonUnsupportedContentType Reason = "unsupported_content_type"      // the request's Content-Type
	ReasonUnsupportedDataType    Reason = "unsupported_data_content_type" // datacontenttype is not JSON
	ReasonMalformedData          Reason = "malformed_data"                // data is not one JSON document
	ReasonSchemaViolation        Reason = "schema_violation"              // data breaks the stream's JSON Schema
	ReasonInvalidEntityKey       Reason = "invalid_entity_key"            // the entity key field is missing, empty or not a string/integer
	ReasonInvalidEventTime       Reason = "invalid_event_time"            // the event time field is missing or not RFC 3339
	ReasonEventTimeFuture        Reason = "event_time_future"             // event time too far in the future
	ReasonEventTimePast          Reason = "event_time_past"               // event time too far in the past
	ReasonBodyTooLarge           Reason = "body_too_large"                // the request body exceeds the limit
	ReasonEventTooLarge          Reason = "event_too_large"               // one event exceeds the per-event limit
	ReasonEmptyBatch             Reason = "empty_batch"                   // a batch with no events
	ReasonBatchTooLarge          Reason = "batch_too_large"               // a batch with more events than allowed
	ReasonForbiddenType          Reason = "forbidden_type"                // the API key may not send this type
	ReasonUnauthenticated        Reason = "unauthenticated"               // no valid API key (not dead-lettered)
	ReasonNumberOutOfRange       Reason = "number_out_of_range"           // data holds a number float64 cannot hold
	ReasonDuplicateKey           Reason = "duplicate_key"                 // a JSON object (the event or its data) has a key twice
	ReasonAttributeTooLarge      Reason = "attribute_too_large"           // an attribute or extension, or all of them, over the limits
	ReasonInternalError          Reason = "internal_error"                // ingest failed on this input (a bug): the event is on the dead-letter topic
)

// Status is the HTTP status of a single event rejected for r.
func (r Reason) Status() int {
	switch r {
	case ReasonUnsupportedContentType, ReasonUnsupportedDataType:
		return http.StatusUnsupportedMediaType
	case ReasonBodyTooLarge, ReasonEventTooLarge, ReasonBatchTooLarge, ReasonAttributeTooLarge:
		return http.StatusRequestEntityTooLarge
	case ReasonForbiddenType:
		return http.StatusForbidden
	case ReasonUnauthenticated:
		return http.StatusUnauthorized
	case ReasonInternalError:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// Reasons lists every reason, for docs and tests.
func Reasons() []Reason {
	return []Reason{
		ReasonMalformedJSON, ReasonMissingAttribute, ReasonInvalidAttribute, ReasonUnsupportedSpecVersion,
		ReasonNotCloudEvent, ReasonUnknownType, ReasonStreamMismatch, ReasonUnsupportedContentType,
		ReasonUnsupportedDataType, ReasonMalformedData, ReasonSchemaViolation, ReasonInvalidEntityKey,
		ReasonInvalidEventTime, ReasonEventTimeFuture, ReasonEventTimePast, ReasonBodyTooLarge,
		ReasonEventTooLarge, ReasonEmptyBatch, ReasonBatchTooLarge, ReasonForbiddenType, ReasonUnauthenticated,
		ReasonNumberOutOfRange, ReasonDuplicateKey, ReasonAttributeTooLarge, ReasonInternalError,
	}
}
