package reason

import "net/http"

// The catalogs below are the reasons each service answers or dead-letters
// today, with the status and dead-letter behaviour of its code at the time
// they were gathered here. They live in libs, not in the services, because
// the readers of the dead-letter topic and of the HTTP answers (the cli,
// the monitor, the e2e suite) cannot import a service's internal packages.
// A service's tests check that its code answers what its catalog says.

// Ingest's reasons: the answer to a refused event, the tributary_reason of
// its dead-letter record and the reason label of
// tributary_ingest_events_total.
const (
	MalformedJSON          ID = "malformed_json"
	MissingAttribute       ID = "missing_attribute"
	InvalidAttribute       ID = "invalid_attribute"
	UnsupportedSpecVersion ID = "unsupported_specversion"
	NotCloudEvent          ID = "not_cloudevent"
	UnknownType            ID = "unknown_type"
	StreamMismatch         ID = "stream_mismatch"
	UnsupportedContentType ID = "unsupported_content_type"
	UnsupportedDataType    ID = "unsupported_data_content_type"
	MalformedData          ID = "malformed_data"
	SchemaViolation        ID = "schema_violation"
	InvalidEntityKey       ID = "invalid_entity_key"
	InvalidEventTime       ID = "invalid_event_time"
	EventTimeFuture        ID = "event_time_future"
	EventTimePast          ID = "event_time_past"
	BodyTooLarge           ID = "body_too_large"
	EventTooLarge          ID = "event_too_large"
	EmptyBatch             ID = "empty_batch"
	BatchTooLarge          ID = "batch_too_large"
	ForbiddenType          ID = "forbidden_type"
	Unauthenticated        ID = "unauthenticated"
	AttributeTooLarge      ID = "attribute_too_large"
	DuplicateKey           ID = "duplicate_key"
	NumberOutOfRange       ID = "number_out_of_range"
	// InternalError is ingest's answer to an input it failed on (a
	// recovered panic): unlike Internal, the input is on the dead-letter
	// topic, so sending it again will not help.
	InternalError ID = "internal_error"
)

// Ingest is ingest's catalog, in the order of its README's table (which
// is generated from it). Status is the answer to a single event; in a
// batch each event carries its reason in the 207 answer.
func Ingest() Catalog {
	const bad, large, dl = http.StatusBadRequest, http.StatusRequestEntityTooLarge, true
	return Catalog{
		{MalformedJSON, bad, dl, "the body or the event is not JSON of the right shape (a batch: not an array)"},
		{MissingAttribute, bad, dl, "`specversion`, `id`, `source` or `type` missing or empty (the message names it)"},
		{InvalidAttribute, bad, dl, "an attribute breaks the CloudEvents rules (bad `time`, extension name, non-UTF-8 header value, ...)"},
		{UnsupportedSpecVersion, bad, dl, "`specversion` is not `1.0`"},
		{UnknownType, bad, dl, "no stream has the event's `type`"},
		{UnsupportedContentType, http.StatusUnsupportedMediaType, dl, "the request's `Content-Type` is none of the modes"},
		{UnsupportedDataType, http.StatusUnsupportedMediaType, dl, "`datacontenttype` is not JSON"},
		{MalformedData, bad, dl, "the data is not one JSON document"},
		{SchemaViolation, bad, dl, "the data breaks the stream's schema (each failing field and keyword listed)"},
		{InvalidEntityKey, bad, dl, "the entity-key field is missing, empty, not a string or integer, or over 4 KiB"},
		{InvalidEventTime, bad, dl, "the event-time field is missing or not RFC 3339"},
		{EventTimeFuture, bad, dl, "event time more than `-events.max-future` ahead"},
		{EventTimePast, bad, dl, "event time more than `-events.max-past` ago"},
		{BodyTooLarge, large, dl, "the body exceeds `-http.max-body-bytes`"},
		{EventTooLarge, large, dl, "one event exceeds `-events.max-event-bytes` (or Kafka refused its record as too large)"},
		{EmptyBatch, bad, dl, "a batch with no events"},
		{BatchTooLarge, large, dl, "a batch of more than `-http.max-batch` events"},
		{ForbiddenType, http.StatusForbidden, dl, "the API key may not send this type"},
		{Unauthenticated, http.StatusUnauthorized, false, "no valid API key (not dead-lettered: with no producer known, anyone could fill the topic)"},
		{AttributeTooLarge, large, dl, "an attribute or extension over 4 KiB, or all of them over 32 KiB (the message names it)"},
		{DuplicateKey, bad, dl, "a JSON object has a key twice: an attribute of a structured event, or a key in the data (the message names it): the schema would check one value and a consumer might read the other"},
		{NumberOutOfRange, bad, dl, "the data holds a number float64 cannot hold (the message names the field)"},
		{InternalError, http.StatusInternalServerError, dl, "ingest failed on this input (a bug): the input is dead-lettered, the panic logged and counted in `tributary_ingest_panics_total`; sending it again will not help"},
		{NotCloudEvent, 0, dl, "raw path: a record without CloudEvents headers"},
		{StreamMismatch, 0, dl, "raw path: the event's type belongs to another stream than the topic's"},
		{Unavailable, http.StatusServiceUnavailable, false, "Kafka did not take the event in time, its buffer is full or too many requests are in flight: send it again after `Retry-After`"},
	}
}

// The features service's reasons: its materializer's dead-letter records
// (and outcome label of tributary_features_materialized_records_total) and
// its read API's answers.
const (
	LateEvent        ID = "late_event"
	UndecodableEvent ID = "undecodable_event"
	BadEventData     ID = "bad_event_data"
	BadLabel         ID = "bad_label"
	MalformedRequest ID = "malformed_request"
	TooManyEntities  ID = "too_many_entities"
	TooManyFeatures  ID = "too_many_features"
	UnknownFeature   ID = "unknown_feature"
	UnknownView      ID = "unknown_view"
	CorruptState     ID = "corrupt_state"
)

// Features is the features service's catalog.
func Features() Catalog {
	const bad = http.StatusBadRequest
	return Catalog{
		{LateEvent, 0, true, "event time older than the entity's newest event in a view by more than the view's lateness"},
		{UndecodableEvent, 0, true, "a record that is not a CloudEvent in binary mode"},
		{BadEventData, 0, true, "data a view cannot read: not a JSON object, or no event time"},
		{BadLabel, 0, true, "a label record without stream, entity_key or event_time, or of another type"},
		{MalformedRequest, bad, false, "the read request is not JSON of the right shape, or has no entities"},
		{TooManyEntities, bad, false, "more entities than a request may read"},
		{TooManyFeatures, bad, false, "more feature references than a request may read"},
		{UnknownFeature, bad, false, "a feature reference no applied view has"},
		{UnknownView, bad, false, "a view that is not applied"},
		{CorruptState, http.StatusInternalServerError, false, "the online store holds what the view cannot read"},
		{Unavailable, http.StatusServiceUnavailable, false, "the online store is not reachable"},
	}
}

// The registry's reasons (libs/model.Code): the id of its HTTP and NATS
// error answers.
const (
	InvalidName        ID = "invalid_name"
	InvalidRequest     ID = "invalid_request"
	ModelNotFound      ID = "model_not_found"
	VersionNotFound    ID = "version_not_found"
	AliasNotFound      ID = "alias_not_found"
	Conflict           ID = "conflict"
	VersionArchived    ID = "version_archived"
	VersionAliased     ID = "version_aliased"
	FeaturesNotApplied ID = "feature_definitions_not_applied"
	NoRollbackTarget   ID = "no_rollback_target"
	ArtifactNotFound   ID = "artifact_not_found"
	ArtifactCorrupt    ID = "artifact_corrupt"
)

// Registry is the registry's catalog (libs/model.HTTPStatus).
func Registry() Catalog {
	const bad, missing, conflict = http.StatusBadRequest, http.StatusNotFound, http.StatusConflict
	return Catalog{
		{InvalidName, bad, false, "a model, version or alias name breaks the naming rules"},
		{InvalidRequest, bad, false, "the request body is not JSON of the right shape"},
		{ModelNotFound, missing, false, "no such model"},
		{VersionNotFound, missing, false, "no such version of the model"},
		{AliasNotFound, missing, false, "no such alias of the model"},
		{Conflict, conflict, false, "a concurrent change won the compare-and-set: read again and retry"},
		{VersionArchived, conflict, false, "the version is archived"},
		{VersionAliased, conflict, false, "the version is the target of an alias"},
		{FeaturesNotApplied, conflict, false, "the version's feature definitions are no longer applied"},
		{NoRollbackTarget, conflict, false, "the alias has no earlier version to roll back to"},
		{ArtifactNotFound, missing, false, "the version has no such artifact"},
		{ArtifactCorrupt, http.StatusUnprocessableEntity, false, "the stored artifact does not match its digest"},
		{Unavailable, http.StatusServiceUnavailable, false, "the registry is not connected to NATS yet"},
		{Internal, http.StatusInternalServerError, false, "a bug or an unexpected failure"},
	}
}
