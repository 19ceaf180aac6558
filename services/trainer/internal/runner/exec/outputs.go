package exec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/lightgbm"
	"github.com/tributary-ml/tributary/libs/learn/modelfile"
	"github.com/tributary-ml/tributary/libs/learn/xgboost"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
)

// Output files of the contract.
const (
	FileModelJSON  = "model.json"      // a Tributary model file or an XGBoost JSON model
	FileModelText  = "model.txt"       // a LightGBM text model
	FileMetrics    = "metrics.json"    // {"name": number, ...}
	FileReferences = "references.json" // {"feature or prediction": Distribution, ...}, optional
)

// Bounds on what is read back.
const (
	maxModelBytes      = 1 << 30
	maxMetricsBytes    = 1 << 20
	maxReferencesBytes = 16 << 20
	maxMetrics         = 1000
	maxMetricKey       = 250
)

// PredictionReference is the name of the prediction's reference
// distribution in references.json.
const PredictionReference = "prediction"

// ReadOutputs reads and checks what a training command wrote into dir: one
// model file (model.json or model.txt) that loads and fits req (its task,
// outputs and number of features), metrics.json and, when present,
// references.json. Every refusal is an *Error naming the file.
func ReadOutputs(dir string, req runner.Request) (runner.Result, error) {
	path, format, err := findModel(dir)
	if err != nil {
		return runner.Result{}, err
	}
	if err := checkModel(path, format, req); err != nil {
		return runner.Result{}, err
	}
	metrics, err := readMetrics(filepath.Join(dir, FileMetrics))
	if err != nil {
		return runner.Result{}, err
	}
	refs, err := readReferences(filepath.Join(dir, FileReferences), req.Features)
	if err != nil {
		return runner.Result{}, err
	}
	return runner.Result{ModelPath: path, Format: format, Metrics: metrics, References: refs}, nil
}

// findModel finds the one model file in dir.
func findModel(dir string) (string, runner.Format, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "model.*"))
	if err != nil {
		return "", "", fmt.Errorf("list outputs: %w", err)
	}
	var found []string
	for _, m := range matches {
		switch name := filepath.Base(m); name {
		case FileModelJSON, FileModelText:
			found = append(found, name)
		case "model.ubj":
			return "", "", fileError(ReasonNoModel, name, "UBJSON is not read: save the XGBoost model as JSON (%s)", FileModelJSON)
		default:
			return "", "", fileError(ReasonNoModel, name, "not a model file the trainer reads: write %s (Tributary or XGBoost JSON) or %s (LightGBM text)", FileModelJSON, FileModelText)
		}
	}
	switch len(found) {
	case 0:
		return "", "", fileError(ReasonNoModel, "", "the command wrote no %s or %s into the output directory", FileModelJSON, FileModelText)
	case 1:
	default:
		return "", "", fileError(ReasonNoModel, "", "the command wrote both %s and %s: write one model", FileModelJSON, FileModelText)
	}
	path := filepath.Join(dir, found[0])
	if st, err := os.Stat(path); err != nil {
		return "", "", fmt.Errorf("stat model file: %w", err)
	} else if !st.Mode().IsRegular() {
		return "", "", fileError(ReasonNoModel, found[0], "not a regular file")
	}
	if found[0] == FileModelText {
		return path, runner.FormatLightGBM, nil
	}
	raw, err := readLimited(path, 64<<10)
	if err != nil && !errors.Is(err, errTooLarge) {
		return "", "", fmt.Errorf("read model file: %w", err)
	}
	format, ok := jsonModelFormat(raw)
	if !ok {
		return "", "", fileError(ReasonBadModel, FileModelJSON, `neither a Tributary model file ("format": %q) nor an XGBoost JSON model ("learner")`, modelfile.Format)
	}
	return path, format, nil
}

// jsonModelFormat tells a Tributary model file from an XGBoost JSON model
// by the first keys of the document: "format" (Tributary) or "learner" and
// "version" (XGBoost).
func jsonModelFormat(head []byte) (runner.Format, bool) {
	dec := json.NewDecoder(bytes.NewReader(head))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		switch t {
		case "format":
			return runner.FormatTributary, true
		case "learner":
			return runner.FormatXGBoost, true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

// loaded is what the checks need of a model.
type loaded struct {
	task     learn.Task // "" when the format does not say
	features []string   // names when the format keeps them and they are meant to match
	nfeat    int
	outputs  int
}

// loaders parse a model file of each format. The tree libraries' feature
// names are the code's own (LightGBM cannot name a feature view:feature),
// so only their number is checked: such a model reads its features by
// position, in the job's order.
var loaders = map[runner.Format]func(raw []byte) (loaded, error){
	runner.FormatTributary: func(raw []byte) (loaded, error) {
		m, h, err := modelfile.Decode(raw)
		if err != nil {
			return loaded{}, err
		}
		return loaded{task: h.Task, features: h.Features, nfeat: len(h.Features), outputs: m.Outputs()}, nil
	},
	runner.FormatLightGBM: func(raw []byte) (loaded, error) {
		m, err := lightgbm.ParseBytes(raw)
		if err != nil {
			return loaded{}, err
		}
		return loaded{task: m.Task(), nfeat: m.NumFeatures(), outputs: m.Outputs()}, nil
	},
	runner.FormatXGBoost: func(raw []byte) (loaded, error) {
		m, err := xgboost.ParseBytes(raw)
		if err != nil {
			return loaded{}, err
		}
		return loaded{task: m.Task(), nfeat: m.NumFeatures(), outputs: m.Outputs()}, nil
	},
}

func checkModel(path string, format runner.Format, req runner.Request) error {
	name := filepath.Base(path)
	load, ok := loaders[format]
	if !ok {
		return fileError(ReasonBadModel, name, "this build cannot load %s models", format)
	}
	raw, err := readLimited(path, maxModelBytes)
	if errors.Is(err, errTooLarge) {
		return fileError(ReasonBadModel, name, "larger than %d bytes", maxModelBytes)
	}
	if err != nil {
		return fmt.Errorf("read model file: %w", err)
	}
	m, err := load(raw)
	if err != nil {
		return &Error{Reason: ReasonBadModel, File: name, Detail: fmt.Sprintf("does not load as a %s model: %v", format, err), Err: err}
	}
	if m.task != "" && m.task != req.Task {
		return fileError(ReasonBadModel, name, "a %s model; the job trains a %s model", m.task, req.Task)
	}
	if m.features != nil && !slices.Equal(m.features, req.Features) {
		return fileError(ReasonBadModel, name, "its features are %v; the job's are %v, in that order", m.features, req.Features)
	}
	if m.nfeat != len(req.Features) {
		return fileError(ReasonBadModel, name, "the model reads %d features; the job has %d (%s)", m.nfeat, len(req.Features), strings.Join(req.Features, ","))
	}
	want := 1
	if req.Task == learn.TaskMulticlass {
		want = req.Classes
	}
	if m.outputs != want {
		return fileError(ReasonBadModel, name, "the model predicts %d values; a %s model of this job predicts %d", m.outputs, req.Task, want)
	}
	return nil
}

func readMetrics(path string) (map[string]float64, error) {
	raw, err := readLimited(path, maxMetricsBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fileError(ReasonBadMetrics, FileMetrics, "missing: write a JSON object of metrics ({} for none)")
	case errors.Is(err, errTooLarge):
		return nil, fileError(ReasonBadMetrics, FileMetrics, "larger than %d bytes", maxMetricsBytes)
	case err != nil:
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := decodeOne(raw, &doc); err != nil || doc == nil {
		return nil, fileError(ReasonBadMetrics, FileMetrics, "not a JSON object: %v", err)
	}
	if len(doc) > maxMetrics {
		return nil, fileError(ReasonBadMetrics, FileMetrics, "%d metrics, at most %d", len(doc), maxMetrics)
	}
	out := make(map[string]float64, len(doc))
	for k, v := range doc {
		if k == "" || len(k) > maxMetricKey {
			return nil, fileError(ReasonBadMetrics, FileMetrics, "metric name %q: want 1 to %d bytes", k, maxMetricKey)
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fileError(ReasonBadMetrics, FileMetrics, "metric %q is %s, want a finite number", k, truncate(string(v), 40))
		}
		out[k] = f
	}
	return out, nil
}

func readReferences(path string, features []string) (map[string]model.Distribution, error) {
	raw, err := readLimited(path, maxReferencesBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, errTooLarge):
		return nil, fileError(ReasonBadReferences, FileReferences, "larger than %d bytes", maxReferencesBytes)
	case err != nil:
		return nil, fmt.Errorf("read references: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := decodeOne(raw, &doc); err != nil || doc == nil {
		return nil, fileError(ReasonBadReferences, FileReferences, "not a JSON object: %v", err)
	}
	out := make(map[string]model.Distribution, len(doc))
	for name, v := range doc {
		if name != PredictionReference && !slices.Contains(features, name) {
			return nil, fileError(ReasonBadReferences, FileReferences, "%q is neither a feature of the job nor %q", name, PredictionReference)
		}
		var d model.Distribution
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			return nil, fileError(ReasonBadReferences, FileReferences, "%q: %v", name, err)
		}
		if err := d.Validate(); err != nil {
			return nil, fileError(ReasonBadReferences, FileReferences, "%q: %v", name, err)
		}
		out[name] = d
	}
	return out, nil
}

func decodeOne(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON document")
	}
	return nil
}

var errTooLarge = errors.New("file too large")

// readLimited reads at most limit bytes of a file: the first limit bytes and
// errTooLarge when it is longer.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return b[:limit], errTooLarge
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
