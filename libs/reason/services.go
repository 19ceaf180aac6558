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
		{UnknownType, bad, dl, "no stream live on this replica has the event's `type` (judged only once the stream definitions are loaded; a stream applied a moment ago may not be live on every replica yet: see Streams)"},
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
		{Unavailable, http.StatusServiceUnavailable, false, "Kafka did not take the event in time, its buffer is full, too many requests are in flight, or the stream definitions are not loaded yet (just after a start: the event is not judged, in particular never refused as `unknown_type`): send it again after `Retry-After`"},
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
	RequestTooLarge  ID = "request_too_large"
	// UnsupportedMediaType is a request body that is not JSON; ingest's
	// unsupported_content_type is dead-lettered, this one is not.
	UnsupportedMediaType ID = "unsupported_media_type"
	TooManyEntities      ID = "too_many_entities"
	TooManyFeatures      ID = "too_many_features"
	UnknownFeature       ID = "unknown_feature"
	UnknownView          ID = "unknown_view"
	CorruptState         ID = "corrupt_state"
)

// Features is the features service's catalog.
func Features() Catalog {
	const bad = http.StatusBadRequest
	return Catalog{
		{LateEvent, 0, true, "event time older than the entity's newest event in a view by more than the view's lateness"},
		{UndecodableEvent, 0, true, "a record that is not a CloudEvent in binary mode"},
		{BadEventData, 0, true, "data a view cannot read: not a JSON object, or no event time"},
		{BadLabel, 0, true, "a label record whose data is not a label (an unknown field, a wrong type), without stream, entity_key or event_time, or of another type"},
		{MalformedRequest, bad, false, "the read request is not one JSON document of the right shape (an unknown field, data after it), or has no entities"},
		{RequestTooLarge, http.StatusRequestEntityTooLarge, false, "the read request's body exceeds the limit (1 MiB)"},
		{UnsupportedMediaType, http.StatusUnsupportedMediaType, false, "the read request's Content-Type is set and is not application/json"},
		{TooManyEntities, bad, false, "more entities than a request may read"},
		{TooManyFeatures, bad, false, "more feature references than a request may read"},
		{UnknownFeature, bad, false, "a feature reference no applied view has"},
		{UnknownView, bad, false, "a view that is not applied"},
		{CorruptState, http.StatusInternalServerError, false, "the online store holds what the view cannot read"},
		{Unavailable, http.StatusServiceUnavailable, false, "the online store is not reachable"},
	}
}

// The registry's reasons (libs/model.Code is this type, and its codes are
// these ids): the reason of its HTTP error answers, the id of its NATS
// error replies and the outcome label of tributary_registry_operations_total.
const (
	InvalidName        ID = "invalid_name"
	InvalidRequest     ID = "invalid_request"
	TooLarge           ID = "too_large"
	ModelNotFound      ID = "model_not_found"
	VersionNotFound    ID = "version_not_found"
	AliasNotFound      ID = "alias_not_found"
	ArtifactNotFound   ID = "artifact_not_found"
	Conflict           ID = "conflict"
	VersionArchived    ID = "version_archived"
	VersionAliased     ID = "version_aliased"
	FeaturesNotApplied ID = "feature_definitions_not_applied"
	NoRollbackTarget   ID = "no_rollback_target"
	ArtifactCorrupt    ID = "artifact_corrupt"
)

// Registry is the registry's catalog; libs/model.HTTPStatus answers its
// statuses, and the table of reasons in services/registry/README.md is its
// Markdown. The registry also answers the Common not_found and
// method_not_allowed of unmatched routes.
func Registry() Catalog {
	const bad, missing, conflict = http.StatusBadRequest, http.StatusNotFound, http.StatusConflict
	return Catalog{
		{InvalidName, bad, false, "a model or alias name that is not 1-64 of `[A-Za-z0-9_-]` starting with a letter or digit; a new alias name of digits only (`3` reads as a version number, so such an alias could never be resolved; one made by an older registry can still be deleted)"},
		{InvalidRequest, bad, false, "a malformed body, an unknown field, trailing data, a missing or bad field (named in the message), an `artifact.size` or `artifact.sha256` that does not match the uploaded file"},
		{TooLarge, http.StatusRequestEntityTooLarge, false, "a body over 8 MB, registration metadata whose version record does not fit in a KV value, an artifact over `-registry.max-artifact-bytes`"},
		{UnsupportedMediaType, http.StatusUnsupportedMediaType, false, "a body that is not `application/json` (or `multipart/form-data` for a registration)"},
		{ModelNotFound, missing, false, "no such model"},
		{VersionNotFound, missing, false, "no such version of the model (the message names it)"},
		{AliasNotFound, missing, false, "no such alias of the model"},
		{ArtifactNotFound, missing, false, "the version's artifact is not in the object store"},
		{Conflict, conflict, false, "a lost compare-and-set: the alias (or version) changed meanwhile, or `expected_revision` does not match (the message says whether the alias exists); a registration whose `request_id` another attempt is still running (retry later)"},
		{VersionArchived, conflict, false, "an alias cannot point at an archived version"},
		{VersionAliased, conflict, false, "a version an alias points at cannot be archived"},
		{FeaturesNotApplied, conflict, false, "the version's feature definitions are not the applied ones; the message names each view, the applied definition and the one the version needs"},
		{NoRollbackTarget, conflict, false, "no production alias, or no earlier version to go back to"},
		{ArtifactCorrupt, http.StatusUnprocessableEntity, false, "the stored artifact does not match its sha256 (or the object store's own digest)"},
		{Unavailable, http.StatusServiceUnavailable, false, "the service is not connected to NATS: not yet, or no longer (answered at once while the connection is down; a NATS call that timed out or lost its connection midway also ends as `unavailable`); retry later (over HTTP after `Retry-After`)"},
		{Internal, http.StatusInternalServerError, false, "anything else (logged)"},
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
		{BadTensorDatatype, bad, false, "an input tensor's datatype is unknown, does not match its data, or is BYTES for a feature the model reads as a number"},
		{MissingFeature, http.StatusUnprocessableEntity, false, "a feature the model needs that no applied view provides and the request does not carry"},
		{UnsupportedFeature, http.StatusUnprocessableEntity, false, "a feature value the model cannot take (a string for a feature the model reads as a number; an infinite number)"},
		{OnlineStoreDisabled, http.StatusServiceUnavailable, false, "the service runs without Redis (-serving.online-features=false): only the Open Inference Protocol is served"},
		{CorruptState, http.StatusInternalServerError, false, "the online store holds what the view cannot read"},
		{RequestTooLarge, http.StatusRequestEntityTooLarge, false, "the request body exceeds the limit"},
		{Overloaded, http.StatusServiceUnavailable, false, "too many requests in flight: retry after Retry-After"},
		{Unavailable, http.StatusServiceUnavailable, false, "the online store is not reachable"},
		{Internal, http.StatusInternalServerError, false, "a bug or an unexpected failure"},
	}
}

// The monitor's reasons: its consumers' dead-letter records and the outcome
// labels of tributary_monitor_predictions_total and
// tributary_monitor_labels_total. A version without a reference
// distribution is counted (no_reference) but its predictions are logged,
// and a label whose prediction is not (yet) in the log is counted
// (unknown_prediction) and kept for a later join, so neither is a
// dead-letter reason. A label that is not a label is BadLabel, as in the
// features service.
const (
	BadPrediction     ID = "bad_prediction"
	NoReference       ID = "no_reference"
	UnknownPrediction ID = "unknown_prediction"
)

// Monitor is the monitor's catalog.
func Monitor() Catalog {
	return Catalog{
		{UndecodableEvent, 0, true, "a record that is not a CloudEvent in binary mode, or whose data is not JSON of the prediction's shape"},
		{BadPrediction, 0, true, "a prediction record of another type, or without prediction_id, model, version ≥ 1, entity_key or event_time"},
		{NoReference, 0, false, "the version has no reference distribution in the registry: the prediction is logged, no drift or data quality is computed for it"},
		{BadLabel, 0, true, "a label record (on `tributary.labels`) that is not a CloudEvent in binary mode, of another type, whose data is not a label (an unknown field, a wrong type), or without stream, entity_key or event_time"},
		{UnknownPrediction, 0, false, "a label whose prediction is not in `prediction_log` (its prediction_id, or for its entity within the model's horizon): kept in `monitor_labels` and joined again at every sweep until `-labels.pending-max-age`"},
	}
}
