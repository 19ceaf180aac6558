// Package models loads model versions from the registry's object store and
// keeps the set that serving routes requests to: it follows the aliases in
// the registry's KV bucket, loads a version an alias moves to in the
// background, warms it and swaps it in atomically, and drops archived
// versions. Requests read an immutable Snapshot, so a swap never touches a
// request in flight.
package models

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/categorical"
	"github.com/tributary-ml/tributary/libs/learn/lightgbm"
	"github.com/tributary-ml/tributary/libs/learn/modelfile"
	"github.com/tributary-ml/tributary/libs/learn/xgboost"
	"github.com/tributary-ml/tributary/libs/model"
)

// Formats of a version's artifact (model.Version.Format), as the trainer's
// runners name them.
const (
	FormatTributary = "tributary" // libs/learn/modelfile JSON
	FormatLightGBM  = "lightgbm"  // LightGBM text model
	FormatXGBoost   = "xgboost"   // XGBoost JSON model
)

// Formats returns the formats Load reads; "xgboost-json" is read as
// "xgboost" (the name libs/model's documentation used first).
func Formats() []string { return []string{FormatTributary, FormatLightGBM, FormatXGBoost} }

// MaxArtifactBytes bounds the artifact Load reads into memory.
const MaxArtifactBytes = 1 << 30

// Why a version failed to load: the reason label of
// tributary_serving_model_loads_total and the reason in /v1/models.
const (
	FailArtifact        = "artifact_unavailable" // the object store could not be read (retried on the next change)
	FailCorrupt         = "artifact_corrupt"     // the artifact does not match the sha256 the registry recorded
	FailUnknownFormat   = "unknown_format"       // a format this build does not read
	FailBadModel        = "bad_model"            // the artifact is not a model of its format
	FailFeatureMismatch = "feature_mismatch"     // the model's features are not the version's lineage features
)

// LoadError says why a version could not be loaded.
type LoadError struct {
	Reason string
	Err    error
}

func (e *LoadError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

func loadErr(reason string, format string, args ...any) *LoadError {
	return &LoadError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Loaded is a version ready to predict. It is immutable.
type Loaded struct {
	Model   string
	Version int
	Format  string
	SHA256  string
	// Features are the version's input feature references (view:feature),
	// in the order Predict reads a row.
	Features []string
	Task     learn.Task
	// Outputs is the number of values Predict writes.
	Outputs int
	// LoadedAt is when the version finished loading; LoadDuration how long
	// fetching, verifying, parsing and warming it took.
	LoadedAt     time.Time
	LoadDuration time.Duration
	predictor    learn.Predictor
	// vocab holds, per feature, the vocabulary of a categorical one (from
	// the model file's encodings), nil for a numeric one.
	vocab []*categorical.Vocabulary
}

// Categorical reports whether feature j is categorical: the model takes
// strings for it, mapped by Code.
func (l *Loaded) Categorical(j int) bool { return j < len(l.vocab) && l.vocab[j] != nil }

// Code maps category s of feature j to the code Predict reads: NaN (the
// model's missing-value rule) for a category the vocabulary has no code
// for, or for a feature that is not categorical.
func (l *Loaded) Code(j int, s string) float64 {
	if !l.Categorical(j) {
		return math.NaN()
	}
	c, _ := l.vocab[j].Code(s)
	return c
}

// Vocabulary is the vocabulary of feature j, nil for a numeric one.
func (l *Loaded) Vocabulary(j int) *categorical.Vocabulary {
	if !l.Categorical(j) {
		return nil
	}
	return l.vocab[j]
}

// Predict scores one row (len(Features) values, NaN for missing) into out
// (Outputs values). It is safe for concurrent use.
func (l *Loaded) Predict(row, out []float64) { l.predictor.Predict(row, out) }

// NewLoaded wraps a predictor that is already in memory (for tests and
// tools); Load is the way from the registry.
func NewLoaded(name string, version int, format string, features []string, task learn.Task, p learn.Predictor) *Loaded {
	return &Loaded{Model: name, Version: version, Format: format, Features: features, Task: task, Outputs: p.Outputs(), predictor: p, LoadedAt: time.Now()}
}

// artifactOpener opens a version's artifact, verifying its sha256 as it
// is read (model.Client).
type artifactOpener interface {
	OpenArtifact(ctx context.Context, a model.Artifact) (io.ReadCloser, error)
}

var _ artifactOpener = (*model.Client)(nil)

// Load fetches v's artifact, checks it against the sha256 the registry
// recorded (the whole artifact is read and verified before it is parsed),
// parses it by v.Format, checks that the model's declared features are the
// lineage's features in the same order, and warms it. The error is a
// *LoadError.
func Load(ctx context.Context, store artifactOpener, v model.Version) (*Loaded, error) {
	start := time.Now()
	if v.Artifact.Size > MaxArtifactBytes {
		return nil, loadErr(FailBadModel, "artifact of %d bytes is larger than %d", v.Artifact.Size, MaxArtifactBytes)
	}
	rc, err := store.OpenArtifact(ctx, v.Artifact)
	if err != nil {
		return nil, classifyArtifact(v, err)
	}
	raw, err := io.ReadAll(io.LimitReader(rc, MaxArtifactBytes+1))
	_ = rc.Close() // read-only: the verdict is the read's
	if err != nil {
		return nil, classifyArtifact(v, err)
	}
	l, err := Parse(v, raw)
	if err != nil {
		return nil, err
	}
	warm(l)
	l.LoadedAt = time.Now()
	l.LoadDuration = l.LoadedAt.Sub(start)
	return l, nil
}

func classifyArtifact(v model.Version, err error) *LoadError {
	if errors.Is(err, model.ErrArtifactCorrupt) {
		return &LoadError{Reason: FailCorrupt, Err: fmt.Errorf("artifact %s: %w", v.Artifact.SHA256, err)}
	}
	return &LoadError{Reason: FailArtifact, Err: fmt.Errorf("artifact %s: %w", v.Artifact.SHA256, err)}
}

// Parse parses an artifact (already verified) of version v.
func Parse(v model.Version, raw []byte) (*Loaded, error) {
	var (
		p     learn.Predictor
		names []string
		task  learn.Task
		vocab []*categorical.Vocabulary
	)
	switch strings.ToLower(v.Format) {
	case FormatTributary:
		m, h, err := modelfile.Decode(raw)
		if err != nil {
			return nil, loadErr(FailBadModel, "%s model: %w", v.Format, err)
		}
		p, names, task = m, h.Features, h.Task
		if len(h.Categorical) > 0 {
			vocab = make([]*categorical.Vocabulary, len(h.Features))
			for i := range h.Categorical {
				c := &h.Categorical[i]
				vocab[slices.Index(h.Features, c.Feature)] = &c.Vocabulary // Decode checked that it is a feature
			}
		}
	case FormatLightGBM:
		m, err := lightgbm.ParseBytes(raw)
		if err != nil {
			return nil, loadErr(FailBadModel, "%s model: %w", v.Format, err)
		}
		p, names, task = m, m.Features(), m.Task()
	case FormatXGBoost, "xgboost-json":
		m, err := xgboost.ParseBytes(raw)
		if err != nil {
			return nil, loadErr(FailBadModel, "%s model: %w", v.Format, err)
		}
		p, names, task = m, m.Features(), m.Task()
	default:
		return nil, loadErr(FailUnknownFormat, "format %q is not one of %v", v.Format, Formats())
	}
	if err := MatchFeatures(names, v.Lineage.Features); err != nil {
		return nil, &LoadError{Reason: FailFeatureMismatch, Err: err}
	}
	if p.Outputs() < 1 {
		return nil, loadErr(FailBadModel, "model has %d outputs", p.Outputs())
	}
	return &Loaded{
		Model: v.Model, Version: v.Version, Format: strings.ToLower(v.Format), SHA256: v.Artifact.SHA256,
		Features: append([]string(nil), v.Lineage.Features...), Task: task, Outputs: p.Outputs(), predictor: p, vocab: vocab,
	}, nil
}

// generic are the names libraries give features that had none: XGBoost's
// f0, f1, ...; LightGBM's Column_0, ...
var generic = regexp.MustCompile(`^(f|Column_)([0-9]+)$`)

// MatchFeatures checks a model's declared feature names against the
// lineage's references (view:feature), position by position. A name
// matches a reference when it is the reference itself, the reference with
// ':' written as "__", "_" or "." (LightGBM refuses ':' in names), or the
// bare feature name; the generic names a library gives unnamed features
// (f3, Column_3) match the reference at their own position only, unless the
// reference's own name has that form too (then it must be equal).
func MatchFeatures(names, refs []string) error {
	if len(names) != len(refs) {
		return fmt.Errorf("the model has %d features, the lineage lists %d", len(names), len(refs))
	}
	for i, n := range names {
		ref := refs[i]
		_, feat, _ := strings.Cut(ref, ":")
		ok := n == ref || n == feat || n == strings.Replace(ref, ":", "__", 1) ||
			n == strings.Replace(ref, ":", "_", 1) || n == strings.Replace(ref, ":", ".", 1)
		if m := generic.FindStringSubmatch(n); !ok && m != nil && !generic.MatchString(feat) {
			ok = m[2] == strconv.Itoa(i)
		}
		if !ok {
			return fmt.Errorf("model feature %d is %q, the lineage's is %q", i, n, ref)
		}
	}
	return nil
}

// warm runs a few predictions so that the first request does not pay for
// first-touch page faults and lazily built state.
func warm(l *Loaded) {
	row := make([]float64, len(l.Features))
	out := make([]float64, l.Outputs)
	for i := range row {
		row[i] = math.NaN()
	}
	for range 8 {
		l.Predict(row, out)
	}
	for i := range row {
		row[i] = 0
	}
	l.Predict(row, out)
}
