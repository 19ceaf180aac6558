package runs

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// Status is a run's lifecycle state, with MLflow's names.
type Status string

// Statuses.
const (
	StatusRunning   Status = "RUNNING"
	StatusScheduled Status = "SCHEDULED"
	StatusFinished  Status = "FINISHED"
	StatusFailed    Status = "FAILED"
	StatusKilled    Status = "KILLED"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusRunning, StatusScheduled, StatusFinished, StatusFailed, StatusKilled:
		return true
	}
	return false
}

// Terminal reports whether a run in s has ended.
func (s Status) Terminal() bool {
	return s == StatusFinished || s == StatusFailed || s == StatusKilled
}

// LifecycleActive is the only lifecycle stage of a run or experiment here
// (nothing is soft-deleted).
const LifecycleActive = "active"

// DefaultExperimentID is the experiment of runs created without one, named
// DefaultExperimentName, as in MLflow. It always exists.
const (
	DefaultExperimentID   = "0"
	DefaultExperimentName = "Default"
)

// Run is a tracked run: what MLflow calls a run, plus the lineage that the
// trainer's jobs fill in. Times are Unix milliseconds, as in MLflow.
type Run struct {
	ID             string            `json:"id"`
	ExperimentID   string            `json:"experiment_id"`
	Name           string            `json:"name"`
	Status         Status            `json:"status"`
	StartTime      int64             `json:"start_time"`
	EndTime        int64             `json:"end_time,omitempty"`
	LifecycleStage string            `json:"lifecycle_stage"`
	UserID         string            `json:"user_id,omitempty"`
	Params         map[string]string `json:"params,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	// Metrics holds the latest value of each metric key (the one with the
	// highest step, then timestamp, then value, as MLflow picks it); the
	// full history of a key is its History.
	Metrics map[string]Metric `json:"metrics,omitempty"`
	// Series counts the points of each metric key's history.
	Series map[string]Series `json:"series,omitempty"`

	// Filled in by the trainer's jobs; empty for runs that only MLflow
	// clients wrote.
	Model              string            `json:"model,omitempty"`
	JobID              string            `json:"job_id,omitempty"`
	Trigger            string            `json:"trigger,omitempty"`
	Seed               *int64            `json:"seed,omitempty"`
	TrainingSet        *TrainingSet      `json:"training_set,omitempty"`
	FeatureDefinitions map[string]string `json:"feature_definitions,omitempty"` // feature view -> definition version
	Trainer            string            `json:"trainer,omitempty"`             // trainer kind: a built-in learner, "exec", "kubernetes"
	CodeVersion        string            `json:"code_version,omitempty"`
	Log                Log               `json:"log"`
	Artifacts          []Artifact        `json:"artifacts,omitempty"`

	// UpdatedAt is when the record was last written (Unix ms).
	UpdatedAt int64 `json:"updated_at"`
}

// TrainingSet is the training set a run was trained on: enough to build the
// same set again (the label time range and the feature definition versions
// on the run) and check it against the hash.
type TrainingSet struct {
	ID         string    `json:"id"`
	SHA256     string    `json:"sha256"`
	LabelsFrom time.Time `json:"labels_from"`
	LabelsTo   time.Time `json:"labels_to"`
	Rows       int64     `json:"rows,omitempty"`
}

// Artifact is a file a run produced (a model, a report), stored elsewhere
// (the object store tributary_artifacts) and named here.
type Artifact struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
	URI    string `json:"uri,omitempty"`
}

// Log is the tail of a runner's output: the last Limits.LogBytes bytes of
// each stream, with the count of earlier bytes dropped.
type Log struct {
	Stdout LogTail `json:"stdout"`
	Stderr LogTail `json:"stderr"`
}

// LogTail is the end of one output stream.
type LogTail struct {
	Data    string `json:"data,omitempty"`
	Dropped int64  `json:"dropped,omitempty"` // bytes dropped from the front
}

// Stream names an output stream of a runner.
type Stream string

// Streams.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Metric is one logged value of a metric. Dataset optionally names the data
// it was measured on ("training", "holdout"; MLflow's dataset_name).
type Metric struct {
	Key       string `json:"key"`
	Value     Float  `json:"value"`
	Timestamp int64  `json:"timestamp"`
	Step      int64  `json:"step"`
	Dataset   string `json:"dataset,omitempty"`
}

// newer reports whether m replaces cur as the latest value of its key.
func (m Metric) newer(cur Metric) bool {
	if m.Step != cur.Step {
		return m.Step > cur.Step
	}
	if m.Timestamp != cur.Timestamp {
		return m.Timestamp > cur.Timestamp
	}
	return !(float64(m.Value) < float64(cur.Value))
}

// Float is a float64 that JSON-encodes NaN and the infinities as the
// strings "NaN", "Infinity" and "-Infinity" (as protobuf's JSON mapping,
// which the MLflow client uses, does), and decodes those strings and
// numbers.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "NaN":
			*f = Float(math.NaN())
		case "Infinity", "inf":
			*f = Float(math.Inf(1))
		case "-Infinity", "-inf":
			*f = Float(math.Inf(-1))
		default:
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("%q is not a number", s)
			}
			*f = Float(v)
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// Experiment groups runs, as in MLflow.
type Experiment struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	ArtifactLocation string            `json:"artifact_location,omitempty"`
	LifecycleStage   string            `json:"lifecycle_stage"`
	CreationTime     int64             `json:"creation_time"`
	LastUpdateTime   int64             `json:"last_update_time"`
	Tags             map[string]string `json:"tags,omitempty"`
}

// Series counts the history of one metric key: the points kept, and those
// logged after Limits.HistoryPoints were kept, which only moved the latest
// value.
type Series struct {
	Points  int64 `json:"points"`
	Dropped int64 `json:"dropped,omitempty"`
}

// History is the logged values of one metric of one run, by timestamp (then
// step); identical points (same value, step, timestamp and dataset) are
// one. Dropped counts the points logged after Limits.HistoryPoints were
// kept.
type History struct {
	RunID   string   `json:"run_id"`
	Key     string   `json:"key"`
	Points  []Metric `json:"points"`
	Dropped int64    `json:"dropped,omitempty"`
}

// Limits bound what a run holds, so that no KV entry exceeds the NATS max
// payload. The zero value of a field means its default (DefaultLimits).
type Limits struct {
	RecordBytes   int // encoded size of a run record or a metric history entry
	Params        int // params per run
	Tags          int // tags per run
	MetricKeys    int // distinct metric keys per run
	HistoryPoints int // points kept per metric key (later ones only move the latest value)
	LogBytes      int // bytes kept per output stream (the end)
	Artifacts     int // artifacts per run
}

// DefaultLimits are the limits of a store opened without WithLimits. The
// counts stop runaway scripts early; RecordBytes is the bound that always
// holds: a change that would encode a run record past it is refused with
// ErrLimitExceeded. Metric points are KV entries of their own (about 270
// bytes each), so HistoryPoints bounds a key's history to about 13 MB.
// 512 KiB stays well below the NATS default max payload of 1 MiB (Open
// lowers it further when the server's is smaller).
var DefaultLimits = Limits{
	RecordBytes:   512 << 10,
	Params:        1000,
	Tags:          1000,
	MetricKeys:    1000,
	HistoryPoints: 50000,
	LogBytes:      32 << 10,
	Artifacts:     100,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	return Limits{
		RecordBytes:   pick(l.RecordBytes, d.RecordBytes),
		Params:        pick(l.Params, d.Params),
		Tags:          pick(l.Tags, d.Tags),
		MetricKeys:    pick(l.MetricKeys, d.MetricKeys),
		HistoryPoints: pick(l.HistoryPoints, d.HistoryPoints),
		LogBytes:      pick(l.LogBytes, d.LogBytes),
		Artifacts:     pick(l.Artifacts, d.Artifacts),
	}
}

// Size limits of single values, MLflow's.
const (
	MaxKeyBytes        = 250
	MaxParamValueBytes = 6000
	MaxTagValueBytes   = 8000
	MaxNameBytes       = 500
)

// idPattern is what a run or experiment id may be: it is a KV key token.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID checks a run or experiment id.
func ValidID(what, id string) error {
	if !idPattern.MatchString(id) {
		return errorf(CodeInvalid, "%s id %q: want 1 to 64 letters, digits, '_' or '-'", what, id)
	}
	return nil
}

func validKey(what, key string) error {
	switch {
	case key == "":
		return errorf(CodeInvalid, "%s key: empty", what)
	case len(key) > MaxKeyBytes:
		return errorf(CodeInvalid, "%s key %.40q...: %d bytes, the limit is %d", what, key, len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		return errorf(CodeInvalid, "%s key %q: not UTF-8", what, key)
	}
	return nil
}

func validValue(what, key, value string, limit int) error {
	if len(value) > limit {
		return errorf(CodeInvalid, "%s %q: value of %d bytes, the limit is %d", what, key, len(value), limit)
	}
	if !utf8.ValidString(value) {
		return errorf(CodeInvalid, "%s %q: value is not UTF-8", what, key)
	}
	return nil
}

// Param is a run parameter.
type Param struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Tag is a run tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}
