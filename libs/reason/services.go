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
)

// Ingest is ingest's catalog (services/ingest/internal/intake.Reasons).
func Ingest() Catalog {
	const bad, dl = http.StatusBadRequest, true
	return Catalog{
		{MalformedJSON, bad, dl, "the body or event is not JSON of the right shape"},
		{MissingAttribute, bad, dl, "id, source, type or specversion is missing"},
		{InvalidAttribute, bad, dl, "an attribute or extension breaks the CloudEvents rules"},
		{UnsupportedSpecVersion, bad, dl, "specversion is not 1.0"},
		{NotCloudEvent, 0, dl, "a raw Kafka record without CloudEvents headers"},
		{UnknownType, bad, dl, "no stream has the event's type"},
		{StreamMismatch, 0, dl, "a raw record's type belongs to another stream than its topic"},
		{UnsupportedContentType, http.StatusUnsupportedMediaType, dl, "the request's Content-Type"},
		{UnsupportedDataType, http.StatusUnsupportedMediaType, dl, "datacontenttype is not JSON"},
		{MalformedData, bad, dl, "data is not one JSON document"},
		{SchemaViolation, bad, dl, "data breaks the stream's JSON Schema"},
		{InvalidEntityKey, bad, dl, "the entity key field is missing, empty or not a string/integer"},
		{InvalidEventTime, bad, dl, "the event time field is missing or not RFC 3339"},
		{EventTimeFuture, bad, dl, "event time too far in the future"},
		{EventTimePast, bad, dl, "event time too far in the past"},
		{BodyTooLarge, http.StatusRequestEntityTooLarge, dl, "the request body exceeds the limit"},
		{EventTooLarge, http.StatusRequestEntityTooLarge, dl, "one event exceeds the per-event limit"},
		{EmptyBatch, bad, dl, "a batch with no events"},
		{BatchTooLarge, http.StatusRequestEntityTooLarge, dl, "a batch with more events than allowed"},
		{ForbiddenType, http.StatusForbidden, dl, "the API key may not send this type"},
		{Unauthenticated, http.StatusUnauthorized, false, "no valid API key (not dead-lettered: anyone could fill the topic)"},
		{Unavailable, http.StatusServiceUnavailable, false, "Kafka did not take the event in time, or too many requests are in flight: retry after Retry-After"},
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

// Serving's reasons: the reason of its error answers (OIP and /v1) and
// the reason label of tributary_serving_predictions_total.
const (
	UnknownModel        ID = "unknown_model"
	UnknownVersion      ID = "unknown_version"
	VersionNotLoaded    ID = "version_not_loaded"
	MalformedInput      ID = "malformed_input"
	BadTensorShape      ID = "bad_tensor_shape"
	BadTensorDatatype   ID = "bad_tensor_datatype"
	MissingFeature      ID = "missing_feature"
	UnsupportedFeature  ID = "unsupported_feature_value"
	OnlineStoreDisabled ID = "online_store_disabled"
	Overloaded          ID = "overloaded"
	RequestTooLarge     ID = "request_too_large"
)

// Serving is the serving service's catalog.
func Serving() Catalog {
	const bad = http.StatusBadRequest
	return Catalog{
		{UnknownModel, http.StatusNotFound, false, "no model of that name is served"},
		{UnknownVersion, http.StatusNotFound, false, "the model has no such version or alias"},
		{VersionNotLoaded, http.StatusServiceUnavailable, false, "the version exists but is not loaded (loading, failed to load, or no alias points at it): the message says which"},
		{MalformedInput, bad, false, "the request body is not JSON of the right shape; the message names the field"},
		{BadTensorShape, bad, false, "an input tensor's shape does not match its data or the model's inputs"},
		{BadTensorDatatype, bad, false, "an input tensor's datatype is unknown, not numeric, or does not match its data"},
		{MissingFeature, http.StatusUnprocessableEntity, false, "a feature the model needs that no applied view provides and the request does not carry"},
		{UnsupportedFeature, http.StatusUnprocessableEntity, false, "a feature value the model cannot take (a string: categorical online features have no encoding yet; an infinite number)"},
		{OnlineStoreDisabled, http.StatusServiceUnavailable, false, "the service runs without Redis (-serving.online-features=false): only the Open Inference Protocol is served"},
		{CorruptState, http.StatusInternalServerError, false, "the online store holds what the view cannot read"},
		{RequestTooLarge, http.StatusRequestEntityTooLarge, false, "the request body exceeds the limit"},
		{Overloaded, http.StatusServiceUnavailable, false, "too many requests in flight: retry after Retry-After"},
		{Unavailable, http.StatusServiceUnavailable, false, "the online store is not reachable"},
		{Internal, http.StatusInternalServerError, false, "a bug or an unexpected failure"},
	}
}
