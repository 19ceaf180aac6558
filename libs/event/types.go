package event

import (
	"errors"
	"fmt"
	"strings"
)

// Platform event types. Each names the CloudEvents `type` attribute of an
// event and the JSON Schema of its data (schemas/events/<type>.json). A
// breaking change to a payload gets a new version suffix (.v2) beside the old
// type; the old one stays until nothing emits it.
const (
	// TypeLabelRecorded: a ground-truth label for an entity (Kafka,
	// TopicLabels). Payload LabelRecorded.
	TypeLabelRecorded = "tributary.label.recorded.v1"
	// TypePredictionLogged: one prediction served (Kafka,
	// TopicPredictions). Payload PredictionLogged.
	TypePredictionLogged = "tributary.prediction.logged.v1"

	// TypeModelRegistered: a model version was stored in the registry.
	// Payload ModelRegistered.
	TypeModelRegistered = "tributary.model.registered.v1"
	// TypeModelAliasMoved: an alias (production, canary, shadow, ...) now
	// points at another version. Payload ModelAliasMoved.
	TypeModelAliasMoved = "tributary.model.alias_moved.v1"
	// TypeModelAliasDeleted: an alias was removed; nothing resolves it
	// any more. Payload ModelAliasDeleted.
	TypeModelAliasDeleted = "tributary.model.alias_deleted.v1"
	// TypeModelArchived: a model version was archived. Payload
	// ModelArchived.
	TypeModelArchived = "tributary.model.archived.v1"

	// TypeTrainRequested asks the trainer to run a training job. Payload
	// TrainRequested.
	TypeTrainRequested = "tributary.train.requested.v1"
	// TypeTrainStarted: a training job started on a runner. Payload
	// TrainStarted.
	TypeTrainStarted = "tributary.train.started.v1"
	// TypeTrainCompleted: a training job finished and registered a
	// candidate version. Payload TrainCompleted.
	TypeTrainCompleted = "tributary.train.completed.v1"
	// TypeTrainFailed: a training job failed. Payload TrainFailed.
	TypeTrainFailed = "tributary.train.failed.v1"

	// TypeDatasetRequested asks the features service for a point-in-time
	// correct training set. Payload DatasetRequested.
	TypeDatasetRequested = "tributary.dataset.requested.v1"
	// TypeDatasetReady: a requested training set is in the object store.
	// Payload DatasetReady.
	TypeDatasetReady = "tributary.dataset.ready.v1"
	// TypeDatasetFailed: a requested training set could not be built.
	// Payload DatasetFailed.
	TypeDatasetFailed = "tributary.dataset.failed.v1"

	// TypeDriftDetected: a feature's or the prediction's distribution
	// drifted from the model's reference. Payload DriftDetected.
	TypeDriftDetected = "tributary.drift.detected.v1"
	// TypeDataQualityBreached: the share of a feature's (or the
	// prediction's) missing, out-of-range or unseen values in a window
	// exceeded its threshold. Payload DataQualityBreached.
	TypeDataQualityBreached = "tributary.drift.quality_breached.v1"
	// TypePerformanceDegraded: a model's metric on labelled predictions fell
	// below its baseline. Payload PerformanceDegraded.
	TypePerformanceDegraded = "tributary.performance.degraded.v1"
	// TypeFairnessBreached: over a window, the demographic-parity or
	// equalized-odds difference of a model's groups of a sensitive
	// attribute exceeded its threshold. Payload FairnessBreached.
	TypeFairnessBreached = "tributary.performance.fairness_breached.v1"
)

// Kafka topics. High-volume data travels on Kafka; control events on NATS.
const (
	// TopicLabels carries TypeLabelRecorded events, keyed by entity.
	TopicLabels = "tributary.labels"
	// TopicPredictions carries TypePredictionLogged events, keyed by entity.
	TopicPredictions = "tributary.predictions"
	// TopicDLQ receives rejected events with the reason in headers.
	TopicDLQ = "tributary.dlq"
	// TopicEventsPrefix prefixes the topics of validated producer streams:
	// tributary.events.<stream>.
	TopicEventsPrefix = "tributary.events."
	// TopicIngestPrefix prefixes the raw topics that producers write to
	// directly, before validation: tributary.ingest.<stream>.
	TopicIngestPrefix = "tributary.ingest."
)

// StreamName is the JetStream stream that keeps the durable control events.
const StreamName = "TRIBUTARY"

// EventsTopic returns the topic of a validated producer stream.
func EventsTopic(stream string) string { return TopicEventsPrefix + stream }

// IngestTopic returns the raw topic producers of a stream write to directly.
func IngestTopic(stream string) string { return TopicIngestPrefix + stream }

// ErrUnknownType reports an event type that is not a platform event type.
var ErrUnknownType = errors.New("unknown event type")

// transport says where an event type travels.
type transport int

const (
	onKafka transport = iota + 1
	onNATS
)

type typeInfo struct {
	name      string
	transport transport
	topic     string // for onKafka
}

// typeTable lists every platform event type in a fixed order.
var typeTable = [...]typeInfo{
	{TypeLabelRecorded, onKafka, TopicLabels},
	{TypePredictionLogged, onKafka, TopicPredictions},
	{TypeModelRegistered, onNATS, ""},
	{TypeModelAliasMoved, onNATS, ""},
	{TypeModelAliasDeleted, onNATS, ""},
	{TypeModelArchived, onNATS, ""},
	{TypeTrainRequested, onNATS, ""},
	{TypeTrainStarted, onNATS, ""},
	{TypeTrainCompleted, onNATS, ""},
	{TypeTrainFailed, onNATS, ""},
	{TypeDatasetRequested, onNATS, ""},
	{TypeDatasetReady, onNATS, ""},
	{TypeDatasetFailed, onNATS, ""},
	{TypeDriftDetected, onNATS, ""},
	{TypeDataQualityBreached, onNATS, ""},
	{TypePerformanceDegraded, onNATS, ""},
	{TypeFairnessBreached, onNATS, ""},
}

// streamDomains are the domains whose control events the TRIBUTARY stream
// keeps. Request-reply subjects use a service name as their domain
// (tributary.registry.register) and so stay outside the stream.
var streamDomains = [...]string{"model", "train", "dataset", "drift", "performance"}

func lookupType(eventType string) (typeInfo, error) {
	for _, ti := range typeTable {
		if ti.name == eventType {
			return ti, nil
		}
	}
	return typeInfo{}, fmt.Errorf("%w %q", ErrUnknownType, eventType)
}

// Types returns every platform event type, in a fixed order.
func Types() []string {
	out := make([]string, len(typeTable))
	for i, ti := range typeTable {
		out[i] = ti.name
	}
	return out
}

// IsKnownType reports whether eventType is a platform event type.
func IsKnownType(eventType string) bool {
	_, err := lookupType(eventType)
	return err == nil
}

// Subject returns the NATS subject of a control event type: the type without
// its version suffix (tributary.model.registered for
// tributary.model.registered.v1), so that every version of an event shares a
// subject and consumers dispatch on the CloudEvents type. Events that travel
// on Kafka (labels, predictions) have no subject.
func Subject(eventType string) (string, error) {
	ti, err := lookupType(eventType)
	if err != nil {
		return "", err
	}
	if ti.transport != onNATS {
		return "", fmt.Errorf("event type %s travels on kafka topic %s, not on nats", eventType, ti.topic)
	}
	i := strings.LastIndexByte(eventType, '.')
	return eventType[:i], nil
}

// Topic returns the Kafka topic of an event type that travels on Kafka.
func Topic(eventType string) (string, error) {
	ti, err := lookupType(eventType)
	if err != nil {
		return "", err
	}
	if ti.transport != onKafka {
		return "", fmt.Errorf("event type %s travels on nats, not on a kafka topic", eventType)
	}
	return ti.topic, nil
}

// StreamSubjects returns the subjects the JetStream stream StreamName
// captures: tributary.<domain>.> for the control-event domains. This list is
// the source of truth; the bootstrap in libs/natsx must use the same.
func StreamSubjects() []string {
	out := make([]string, len(streamDomains))
	for i, d := range streamDomains {
		out[i] = "tributary." + d + ".>"
	}
	return out
}

// InStream reports whether the stream StreamName captures a published
// subject. Request-reply subjects must not be captured: a service can check
// its own subjects with it.
func InStream(subject string) bool {
	for _, d := range streamDomains {
		prefix := "tributary." + d + "."
		if len(subject) > len(prefix) && strings.HasPrefix(subject, prefix) {
			return true
		}
	}
	return false
}
