package event

import (
	"fmt"
	"time"
)

// This file holds the data (payload) of every platform event type. Each struct
// mirrors the JSON Schema schemas/events/<type>.json; a test keeps the two in
// step. Field names are snake_case in JSON. Model versions are integers that
// start at 1; optional fields are omitted when empty.

// Trigger says what started a training job or a registration.
type Trigger string

// Triggers.
const (
	TriggerManual      Trigger = "manual"      // a person or the cli
	TriggerSchedule    Trigger = "schedule"    // a cron-like schedule
	TriggerLabels      Trigger = "labels"      // enough new labels arrived
	TriggerDrift       Trigger = "drift"       // a drift alert
	TriggerPerformance Trigger = "performance" // a performance-degradation alert
)

// DriftTarget says whose distribution drifted.
type DriftTarget string

// Drift targets.
const (
	DriftTargetFeature    DriftTarget = "feature"
	DriftTargetPrediction DriftTarget = "prediction"
)

// DriftMetric names a distance between a window and the reference.
type DriftMetric string

// Drift metrics.
const (
	DriftPSI        DriftMetric = "psi"  // population stability index
	DriftKS         DriftMetric = "ks"   // Kolmogorov-Smirnov statistic
	DriftJS         DriftMetric = "js"   // Jensen-Shannon distance
	DriftChiSquared DriftMetric = "chi2" // chi-squared statistic
	// DriftWasserstein is the Wasserstein-1 distance over the reference's
	// standard deviation.
	DriftWasserstein DriftMetric = "wasserstein"
)

// LabelRecorded is the data of TypeLabelRecorded: the observed outcome for an
// entity at a time. A training set joins each label with the features as they
// were at EventTime.
type LabelRecorded struct {
	// Stream is the label stream, e.g. "fraud"; training sets select labels
	// by stream.
	Stream string `json:"stream"`
	// EntityKey identifies the entity; it is also the Kafka record key.
	EntityKey string `json:"entity_key"`
	// Value is the label: 0/1 for binary classification, the class index
	// for multi-class, the target for regression.
	Value float64 `json:"value"`
	// EventTime is when the labelled outcome applies (the instant whose
	// features the label is joined with), not when the label arrived.
	EventTime time.Time `json:"event_time"`
	// PredictionID links the label to the prediction it judges, when known.
	PredictionID string `json:"prediction_id,omitempty"`
}

// PredictionLogged is the data of TypePredictionLogged: one prediction as
// served, with the feature values it used.
type PredictionLogged struct {
	// PredictionID is unique per prediction (idempotency key of the log).
	PredictionID string `json:"prediction_id"`
	Model        string `json:"model"`
	Version      int    `json:"version"`
	// Alias is the alias that routed the request (production, canary,
	// shadow, ...), empty when a version was asked for directly.
	Alias     string `json:"alias,omitempty"`
	EntityKey string `json:"entity_key"`
	// Features are the input values by feature reference ("view:feature"),
	// null where the entity had no value; never nil. A categorical feature
	// is in CategoricalFeatures instead.
	Features map[string]*float64 `json:"features"`
	// CategoricalFeatures are the values of the model's categorical
	// features as received (the category's string, a number as its
	// decimal text), null where the entity had no value.
	CategoricalFeatures map[string]*string `json:"categorical_features,omitempty"`
	// Prediction is the model output: the score or probability of the
	// positive class, the class index, or the regression value.
	Prediction float64 `json:"prediction"`
	// Probabilities are the class probabilities of a multi-class model.
	Probabilities []float64 `json:"probabilities,omitempty"`
	// Shadow is true for a shadow prediction that was not returned.
	Shadow bool `json:"shadow,omitempty"`
	// EventTime is when the prediction was made.
	EventTime time.Time `json:"event_time"`
	// LatencySeconds is the time the model took to answer, features
	// included.
	LatencySeconds float64 `json:"latency_seconds,omitempty"`
	// FeatureAgesSeconds is, per online feature reference that had a
	// value, the age of that value at prediction time (EventTime minus
	// the time of the newest event it includes); absent for request-time
	// features and features without a value.
	FeatureAgesSeconds map[string]float64 `json:"feature_ages_seconds,omitempty"`
}

// ModelRegistered is the data of TypeModelRegistered: a new model version and
// its lineage.
type ModelRegistered struct {
	Model   string `json:"model"`
	Version int    `json:"version"`
	// Format names the artifact format, the key serving loads it by (e.g.
	// "lightgbm", "xgboost-json", "linear").
	Format string `json:"format"`
	// ArtifactSHA256 is the hex sha256 of the artifact, its address in the
	// object store.
	ArtifactSHA256 string `json:"artifact_sha256"`
	ArtifactSize   int64  `json:"artifact_size"`
	// TrainingSetID and TrainingSetSHA256 identify the training set
	// (DatasetReady.DatasetID and DatasetReady.SHA256).
	TrainingSetID     string `json:"training_set_id"`
	TrainingSetSHA256 string `json:"training_set_sha256"`
	// FeatureDefinitions maps each feature view used to the version
	// (content hash) of its definition; empty, never nil, for a model
	// that reads no feature views.
	FeatureDefinitions map[string]string `json:"feature_definitions"`
	// Features are the input feature references ("view:feature") in the
	// order the model expects them.
	Features []string `json:"features"`
	// Trainer names the trainer (a built-in Go trainer or an exec command).
	Trainer string `json:"trainer"`
	// CodeVersion is the version of the training code (a commit, an image
	// digest).
	CodeVersion string `json:"code_version"`
	// Params are the training parameters, as strings.
	Params map[string]string `json:"params,omitempty"`
	// Metrics are the holdout metrics (e.g. "auc", "log_loss"); never nil.
	Metrics map[string]float64 `json:"metrics"`
	Trigger Trigger            `json:"trigger"`
	// JobID is the training job that produced the version, if any.
	JobID string `json:"job_id,omitempty"`
}

// ModelAliasMoved is the data of TypeModelAliasMoved: an alias now points at
// another version (a promotion, a canary, a rollback).
type ModelAliasMoved struct {
	Model string `json:"model"`
	Alias string `json:"alias"`
	// FromVersion is the version the alias pointed at before; 0 when the
	// alias is new.
	FromVersion int `json:"from_version,omitempty"`
	ToVersion   int `json:"to_version"`
	// Weight is the share of traffic (0..1) of a canary alias.
	Weight *float64 `json:"weight,omitempty"`
	// Actor is who or what moved the alias (a user, "trainer", "monitor").
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
	// Rollback is true when the move was a rollback.
	Rollback bool `json:"rollback,omitempty"`
}

// ModelAliasDeleted is the data of TypeModelAliasDeleted: an alias was
// removed.
type ModelAliasDeleted struct {
	Model string `json:"model"`
	Alias string `json:"alias"`
	// FromVersion is the version the alias pointed at.
	FromVersion int `json:"from_version"`
	// Actor is who or what deleted the alias.
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
}

// ModelArchived is the data of TypeModelArchived.
type ModelArchived struct {
	Model   string `json:"model"`
	Version int    `json:"version"`
	Actor   string `json:"actor"`
	Reason  string `json:"reason,omitempty"`
}

// TrainRequested is the data of TypeTrainRequested. The requester mints the
// job id, so that a redelivered request starts no second job.
type TrainRequested struct {
	JobID   string  `json:"job_id"`
	Model   string  `json:"model"`
	Trigger Trigger `json:"trigger"`
	// Reason says why, for people (e.g. "psi 0.31 on txn:amount_sum_1h").
	Reason string `json:"reason,omitempty"`
	// RequestedBy is who or what asked.
	RequestedBy string `json:"requested_by,omitempty"`
	// Runner overrides the model's configured runner ("go", "exec",
	// "kubernetes").
	Runner string `json:"runner,omitempty"`
	// Params override the model's configured training parameters.
	Params map[string]string `json:"params,omitempty"`
}

// TrainStarted is the data of TypeTrainStarted.
type TrainStarted struct {
	JobID   string  `json:"job_id"`
	Model   string  `json:"model"`
	Trigger Trigger `json:"trigger"`
	Runner  string  `json:"runner"`
	// DatasetID is the training set the job trains on, once known.
	DatasetID string `json:"dataset_id,omitempty"`
}

// TrainCompleted is the data of TypeTrainCompleted: the job registered
// candidate Version; whether it is promoted is a separate alias move.
type TrainCompleted struct {
	JobID           string             `json:"job_id"`
	Model           string             `json:"model"`
	Trigger         Trigger            `json:"trigger"`
	Runner          string             `json:"runner"`
	Version         int                `json:"version"`
	Metrics         map[string]float64 `json:"metrics"`
	DurationSeconds float64            `json:"duration_seconds"`
}

// TrainFailed is the data of TypeTrainFailed.
type TrainFailed struct {
	JobID   string  `json:"job_id"`
	Model   string  `json:"model"`
	Trigger Trigger `json:"trigger"`
	Runner  string  `json:"runner"`
	// Error says what went wrong.
	Error           string  `json:"error"`
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
}

// DatasetRequested is the data of TypeDatasetRequested: build the training set
// of the labels of LabelStream with event times in [Start, End), joined with
// Features as they were at each label's time.
type DatasetRequested struct {
	// RequestID correlates the answer (DatasetReady.RequestID); a repeated
	// request id builds nothing new.
	RequestID string `json:"request_id"`
	// Features are feature references ("view:feature"), in column order.
	Features    []string  `json:"features"`
	LabelStream string    `json:"label_stream"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	// JobID is the training job the set is for, if any.
	JobID string `json:"job_id,omitempty"`
}

// DatasetReady is the data of TypeDatasetReady: the Parquet training set is in
// the NATS object store.
type DatasetReady struct {
	RequestID string `json:"request_id"`
	// DatasetID identifies the training set in model lineage.
	DatasetID string `json:"dataset_id"`
	// Bucket and ObjectName locate it in the NATS object store.
	Bucket     string `json:"bucket"`
	ObjectName string `json:"object_name"`
	// SHA256 is the hex sha256 of the Parquet file.
	SHA256   string `json:"sha256"`
	RowCount int64  `json:"row_count"`
	// Features are the feature columns, in order.
	Features []string `json:"features"`
	// FeatureDefinitions maps each feature view to the definition version
	// the set was computed with.
	FeatureDefinitions map[string]string `json:"feature_definitions"`
	LabelStream        string            `json:"label_stream"`
	Start              time.Time         `json:"start"`
	End                time.Time         `json:"end"`
}

// Reasons of a DatasetFailed: stable ids for programs, beside the message
// for people.
const (
	// DatasetFailedBadRequest: the request can never succeed (empty request
	// id or label stream, end not after start, malformed feature reference).
	DatasetFailedBadRequest = "bad_request"
	// DatasetFailedUnknownView: a feature reference names no feature view.
	DatasetFailedUnknownView = "unknown_view"
	// DatasetFailedUnknownFeature: a view has no feature of that name.
	DatasetFailedUnknownFeature = "unknown_feature"
	// DatasetFailedUndecodable: the request event could not be decoded.
	DatasetFailedUndecodable = "undecodable_request"
	// DatasetFailedError: reading ClickHouse or writing the object store
	// kept failing after the retries.
	DatasetFailedError = "error"
)

// DatasetFailed is the data of TypeDatasetFailed: the training set of
// RequestID will not be built.
type DatasetFailed struct {
	RequestID string `json:"request_id"`
	// Reason is a stable id (DatasetFailedBadRequest, ...).
	Reason string `json:"reason"`
	// Message says what went wrong, for people.
	Message     string    `json:"message"`
	Features    []string  `json:"features,omitempty"`
	LabelStream string    `json:"label_stream,omitempty"`
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
	// JobID is the training job the set was for, if any.
	JobID string `json:"job_id,omitempty"`
}

// DriftDetected is the data of TypeDriftDetected: over the window
// [WindowStart, WindowEnd), Metric between the served distribution and the
// version's reference reached Threshold.
type DriftDetected struct {
	Model   string      `json:"model"`
	Version int         `json:"version"`
	Target  DriftTarget `json:"target"`
	// Feature is the drifted feature reference, set when Target is
	// DriftTargetFeature.
	Feature     string      `json:"feature,omitempty"`
	Metric      DriftMetric `json:"metric"`
	Value       float64     `json:"value"`
	Threshold   float64     `json:"threshold"`
	WindowStart time.Time   `json:"window_start"`
	WindowEnd   time.Time   `json:"window_end"`
	// SampleSize is the number of predictions in the window.
	SampleSize int64 `json:"sample_size"`
}

// Data-quality checks of DataQualityBreached.Check.
const (
	QualityMissing    = "missing_share"
	QualityOutOfRange = "out_of_range_share"
	QualityUnseen     = "unseen_share"
)

// DataQualityBreached is the data of TypeDataQualityBreached: over the
// window [WindowStart, WindowEnd), the share Value of the feature's (or the
// prediction's) values that Check counts exceeded Threshold.
type DataQualityBreached struct {
	Model   string      `json:"model"`
	Version int         `json:"version"`
	Target  DriftTarget `json:"target"`
	// Feature is the feature reference, set when Target is
	// DriftTargetFeature.
	Feature     string    `json:"feature,omitempty"`
	Check       string    `json:"check"`
	Value       float64   `json:"value"`
	Threshold   float64   `json:"threshold"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// SampleSize is the number of values in the window, missing ones
	// included.
	SampleSize int64 `json:"sample_size"`
}

// PerformanceDegraded is the data of TypePerformanceDegraded: over the window,
// Metric on labelled predictions is Value against Baseline (the holdout or
// the agreed floor).
type PerformanceDegraded struct {
	Model   string `json:"model"`
	Version int    `json:"version"`
	// Route is the alias that routed the predictions (production, canary,
	// ...), empty for direct version requests or when not known.
	Route string `json:"route,omitempty"`
	// Metric names the metric (e.g. "auc", "accuracy", "rmse").
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
	Baseline float64 `json:"baseline"`
	// Threshold is the floor (for a metric where higher is better) or the
	// ceiling (lower is better) Value passed, when the alert comes from a
	// threshold; Baseline then holds the same number.
	Threshold   *float64  `json:"threshold,omitempty"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// SampleSize is the number of labelled predictions in the window.
	SampleSize int64 `json:"sample_size"`
}

// Fairness metrics of FairnessBreached.Metric.
const (
	FairnessDemographicParity = "demographic_parity_difference"
	FairnessEqualizedOdds     = "equalized_odds_difference"
)

// FairnessBreached is the data of TypeFairnessBreached: over the window
// [WindowStart, WindowEnd), Metric between the groups of Attribute (the
// largest minus the smallest positive rate, or the larger spread of the true
// and false positive rates) exceeded Threshold.
type FairnessBreached struct {
	Model   string `json:"model"`
	Version int    `json:"version"`
	// Route is the alias that routed the predictions, empty for direct
	// version requests.
	Route string `json:"route,omitempty"`
	// Attribute is the sensitive attribute, a feature reference.
	Attribute   string    `json:"attribute"`
	Metric      string    `json:"metric"`
	Value       float64   `json:"value"`
	Threshold   float64   `json:"threshold"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// SampleSize is the number of predictions in the window (for
	// demographic parity) or of labelled ones (for equalized odds).
	SampleSize int64 `json:"sample_size"`
	// Groups are the attribute's values seen in the window, sorted.
	Groups []string `json:"groups"`
}

// NewPayload returns a pointer to a zero payload struct for eventType, to
// unmarshal an event's data into.
func NewPayload(eventType string) (any, error) {
	switch eventType {
	case TypeLabelRecorded:
		return new(LabelRecorded), nil
	case TypePredictionLogged:
		return new(PredictionLogged), nil
	case TypeModelRegistered:
		return new(ModelRegistered), nil
	case TypeModelAliasMoved:
		return new(ModelAliasMoved), nil
	case TypeModelAliasDeleted:
		return new(ModelAliasDeleted), nil
	case TypeModelArchived:
		return new(ModelArchived), nil
	case TypeTrainRequested:
		return new(TrainRequested), nil
	case TypeTrainStarted:
		return new(TrainStarted), nil
	case TypeTrainCompleted:
		return new(TrainCompleted), nil
	case TypeTrainFailed:
		return new(TrainFailed), nil
	case TypeDatasetRequested:
		return new(DatasetRequested), nil
	case TypeDatasetReady:
		return new(DatasetReady), nil
	case TypeDatasetFailed:
		return new(DatasetFailed), nil
	case TypeDriftDetected:
		return new(DriftDetected), nil
	case TypeDataQualityBreached:
		return new(DataQualityBreached), nil
	case TypePerformanceDegraded:
		return new(PerformanceDegraded), nil
	case TypeFairnessBreached:
		return new(FairnessBreached), nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownType, eventType)
}
