package mlflowapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tributary-ml/tributary/services/trainer/internal/runs"
)

// The JSON shapes of MLflow's tracking service (mlflow/protos/service.proto,
// protobuf's JSON mapping with the field names as in the proto; int64 as
// numbers, as MLflow writes them, and read from numbers or strings).

type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type metricJSON struct {
	Key           string     `json:"key"`
	Value         runs.Float `json:"value"`
	Timestamp     int64      `json:"timestamp"`
	Step          int64      `json:"step"`
	DatasetName   string     `json:"dataset_name,omitempty"`
	DatasetDigest string     `json:"dataset_digest,omitempty"`
	ModelID       string     `json:"model_id,omitempty"`
	RunID         string     `json:"run_id,omitempty"`
}

type runInfoJSON struct {
	RunID          string `json:"run_id"`
	RunUUID        string `json:"run_uuid"`
	RunName        string `json:"run_name"`
	ExperimentID   string `json:"experiment_id"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	StartTime      int64  `json:"start_time"`
	EndTime        int64  `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
}

type runDataJSON struct {
	Metrics []metricJSON `json:"metrics"`
	Params  []keyValue   `json:"params"`
	Tags    []keyValue   `json:"tags"`
}

type runJSON struct {
	Info runInfoJSON `json:"info"`
	Data runDataJSON `json:"data"`
}

type experimentJSON struct {
	ExperimentID     string     `json:"experiment_id"`
	Name             string     `json:"name"`
	ArtifactLocation string     `json:"artifact_location"`
	LifecycleStage   string     `json:"lifecycle_stage"`
	LastUpdateTime   int64      `json:"last_update_time,omitempty"`
	CreationTime     int64      `json:"creation_time,omitempty"`
	Tags             []keyValue `json:"tags"`
}

// Requests. Every field of the messages the client sends is listed, so
// that decoding can refuse unknown fields.

type createExperimentReq struct {
	Name             string     `json:"name"`
	ArtifactLocation string     `json:"artifact_location"`
	Tags             []keyValue `json:"tags"`
}

type createRunReq struct {
	ExperimentID string     `json:"experiment_id"`
	UserID       string     `json:"user_id"`
	RunName      string     `json:"run_name"`
	StartTime    int64JSON  `json:"start_time"`
	Tags         []keyValue `json:"tags"`
}

type updateRunReq struct {
	RunID   string     `json:"run_id"`
	RunUUID string     `json:"run_uuid"`
	Status  statusJSON `json:"status"`
	EndTime int64JSON  `json:"end_time"`
	RunName string     `json:"run_name"`
}

type logParamReq struct {
	RunID   string  `json:"run_id"`
	RunUUID string  `json:"run_uuid"`
	Key     string  `json:"key"`
	Value   *string `json:"value"`
}

type setTagReq = logParamReq

type logMetricReq struct {
	RunID         string      `json:"run_id"`
	RunUUID       string      `json:"run_uuid"`
	Key           string      `json:"key"`
	Value         *runs.Float `json:"value"`
	Timestamp     *int64JSON  `json:"timestamp"`
	Step          int64JSON   `json:"step"`
	ModelID       string      `json:"model_id"`
	DatasetName   string      `json:"dataset_name"`
	DatasetDigest string      `json:"dataset_digest"`
}

type batchMetric struct {
	Key           string      `json:"key"`
	Value         *runs.Float `json:"value"`
	Timestamp     *int64JSON  `json:"timestamp"`
	Step          int64JSON   `json:"step"`
	DatasetName   string      `json:"dataset_name"`
	DatasetDigest string      `json:"dataset_digest"`
	ModelID       string      `json:"model_id"`
	RunID         string      `json:"run_id"`
}

type logBatchReq struct {
	RunID   string        `json:"run_id"`
	Metrics []batchMetric `json:"metrics"`
	Params  []keyValue    `json:"params"`
	Tags    []keyValue    `json:"tags"`
}

// int64JSON is an int64 read from a JSON number or a decimal string (the
// protobuf JSON mapping allows both).
type int64JSON int64

func (i *int64JSON) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not a 64-bit integer", b)
	}
	*i = int64JSON(v)
	return nil
}

// statusJSON is a RunStatus by name ("FINISHED") or number (3).
type statusJSON runs.Status

var statusNumbers = map[int64]runs.Status{
	1: runs.StatusRunning, 2: runs.StatusScheduled, 3: runs.StatusFinished, 4: runs.StatusFailed, 5: runs.StatusKilled,
}

func (s *statusJSON) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		if !runs.Status(name).Valid() {
			return fmt.Errorf("run status %q: want RUNNING, SCHEDULED, FINISHED, FAILED or KILLED", name)
		}
		*s = statusJSON(name)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil || statusNumbers[n] == "" {
		return fmt.Errorf("run status %s: want a RunStatus name or number 1 to 5", b)
	}
	*s = statusJSON(statusNumbers[n])
	return nil
}
