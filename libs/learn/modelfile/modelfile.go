package modelfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/categorical"
	"github.com/tributary-ml/tributary/libs/learn/gbdt"
	"github.com/tributary-ml/tributary/libs/learn/linear"
)

// Format and Version are what a model file's "format" and "version" say.
// Save writes version 1 for a model of numeric features only (what every
// reader reads) and version 2 for a model with categorical features (the
// header's "categorical"); Load reads both.
const (
	Format  = "tributary.model"
	Version = 1
	// VersionCategorical is the version of a file with categorical features.
	VersionCategorical = 2
)

// decoders knows every kind of model: a kind is one line here. A decoder
// gets the checked header and the raw "model" object, and checks the object
// against the header.
var decoders = map[string]decoder{
	linear.KindLogistic: adapt(linear.DecodeLogistic),
	linear.KindRidge:    adapt(linear.DecodeRidge),
	gbdt.Kind:           adapt(gbdt.Decode),
}

type decoder func(info learn.ModelInfo, body []byte) (learn.Model, error)

func adapt[M learn.Model](f func(learn.ModelInfo, []byte) (M, error)) decoder {
	return func(info learn.ModelInfo, body []byte) (learn.Model, error) { return f(info, body) }
}

// Kinds returns the model kinds Load knows, sorted.
func Kinds() []string {
	kinds := make([]string, 0, len(decoders))
	for k := range decoders {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// Header is a model file without its model: what the model is.
type Header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	learn.ModelInfo
	// Categorical are the encodings of the categorical features (version
	// 2): the vocabulary that maps a feature's string to the code Predict
	// reads, and how the learner saw the code. The "model" object is then
	// the learner's model of the encoded columns.
	Categorical []categorical.Feature `json:"categorical,omitempty"`
}

// file is the whole document.
type file struct {
	Header
	Model json.RawMessage `json:"model"`
}

// Model is what Save writes: a built-in model whose JSON encoding is its
// kind's "model" object.
type Model interface {
	learn.Model
	json.Marshaler
}

// Save writes m as a model file. A *categorical.Model whose inner model is
// a built-in Model is saved as version 2 with its encodings.
func Save(w io.Writer, m learn.Model) error {
	info := m.Info()
	if _, ok := decoders[info.Kind]; !ok {
		return fmt.Errorf("save model: %w", &Error{Reason: ReasonUnknownKind, Detail: fmt.Sprintf("kind %q is not one of %v", info.Kind, Kinds())})
	}
	h := Header{Format: Format, Version: Version, ModelInfo: info}
	var inner learn.Model = m
	if cm, ok := m.(*categorical.Model); ok {
		h.Version, h.Categorical, inner = VersionCategorical, cm.Layout().Features(), cm.Inner()
	}
	mm, ok := inner.(Model)
	if !ok {
		return fmt.Errorf("save %s model: %T has no model object", info.Kind, inner)
	}
	body, err := mm.MarshalJSON()
	if err != nil {
		return fmt.Errorf("save %s model: %w", info.Kind, err)
	}
	doc, err := json.Marshal(file{Header: h, Model: body})
	if err != nil {
		return fmt.Errorf("save %s model: %w", info.Kind, err)
	}
	if _, err := w.Write(append(doc, '\n')); err != nil {
		return fmt.Errorf("save %s model: %w", info.Kind, err)
	}
	return nil
}

// Load reads a model file and returns its model, ready to predict, and its
// header. It returns an *Error for anything that is not a model file it
// can use: not JSON or not a model file (ReasonNotModelFile), a version it
// does not read (ReasonUnsupportedVersion), a kind it does not know
// (ReasonUnknownKind) or a model that does not hold together (ReasonCorrupt).
func Load(r io.Reader) (learn.Predictor, Header, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, Header{}, fmt.Errorf("read model file: %w", err)
	}
	m, h, err := Decode(raw)
	if err != nil {
		return nil, h, err
	}
	return m, h, nil
}

// Decode is Load from bytes, returning the model with its Info.
func Decode(raw []byte) (learn.Model, Header, error) {
	var f file
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&f); err != nil {
		return nil, Header{}, &Error{Reason: ReasonNotModelFile, Detail: "not JSON: " + err.Error()}
	}
	// A second Decode must find the end: dec.More() would take a stray
	// '}' or ']' after the document for the end of an enclosing value.
	if err := dec.Decode(&json.RawMessage{}); err != io.EOF {
		return nil, Header{}, &Error{Reason: ReasonNotModelFile, Detail: "data after the JSON document"}
	}
	h := f.Header
	if h.Format != Format {
		return nil, h, &Error{Reason: ReasonNotModelFile, Detail: fmt.Sprintf("format is %q, want %q", h.Format, Format)}
	}
	if h.Version != Version && h.Version != VersionCategorical {
		return nil, h, &Error{Reason: ReasonUnsupportedVersion, Detail: fmt.Sprintf("version %d; this build reads versions %d and %d", h.Version, Version, VersionCategorical)}
	}
	if h.Version == Version && len(h.Categorical) > 0 {
		return nil, h, &Error{Reason: ReasonCorrupt, Detail: fmt.Sprintf("categorical features in a version %d file", Version)}
	}
	dec1, ok := decoders[h.Kind]
	if !ok {
		return nil, h, &Error{Reason: ReasonUnknownKind, Detail: fmt.Sprintf("kind %q is not one of %v", h.Kind, Kinds())}
	}
	if err := checkHeader(&h); err != nil {
		return nil, h, err
	}
	if len(f.Model) == 0 || string(f.Model) == "null" {
		return nil, h, &Error{Reason: ReasonCorrupt, Detail: "no model object"}
	}
	var layout *categorical.Layout
	innerInfo := h.ModelInfo
	if len(h.Categorical) > 0 {
		var err error
		if layout, err = categorical.NewLayout(h.Features, h.Categorical); err != nil {
			return nil, h, &Error{Reason: ReasonCorrupt, Detail: err.Error(), Err: err}
		}
		innerInfo.Features = layout.Columns()
	}
	inner, err := dec1(innerInfo, f.Model)
	if err != nil {
		return nil, h, &Error{Reason: ReasonCorrupt, Detail: fmt.Sprintf("%s model: %v", h.Kind, err), Err: err}
	}
	m := inner
	if layout != nil {
		if !slices.Equal(inner.Info().Features, innerInfo.Features) {
			return nil, h, &Error{Reason: ReasonCorrupt, Detail: fmt.Sprintf("the %s model reads %v, the encoded columns are %v", h.Kind, inner.Info().Features, innerInfo.Features)}
		}
		if m, err = categorical.Wrap(layout, inner); err != nil {
			return nil, h, &Error{Reason: ReasonCorrupt, Detail: err.Error(), Err: err}
		}
	}
	got := m.Info()
	if got.Kind != h.Kind || got.Task != h.Task || got.Classes != h.Classes || !slices.Equal(got.Features, h.Features) {
		return nil, h, &Error{Reason: ReasonCorrupt, Detail: fmt.Sprintf("the %s model describes itself as %+v, the header says %+v", h.Kind, got, h.ModelInfo)}
	}
	if want := outputs(h.Task, h.Classes); m.Outputs() != want {
		return nil, h, &Error{Reason: ReasonCorrupt, Detail: fmt.Sprintf("the %s model has %d outputs, a %s model has %d", h.Kind, m.Outputs(), h.Task, want)}
	}
	return m, h, nil
}

// maxClasses bounds the classes of a multiclass model, so that sizes
// computed from them cannot overflow.
const maxClasses = 1 << 16

func checkHeader(h *Header) error {
	bad := func(format string, args ...any) error {
		return &Error{Reason: ReasonCorrupt, Detail: fmt.Sprintf(format, args...)}
	}
	switch h.Task {
	case learn.TaskBinary:
		if h.Classes != 2 {
			return bad("binary model with %d classes, want 2", h.Classes)
		}
	case learn.TaskMulticlass:
		if h.Classes < 2 || h.Classes > maxClasses {
			return bad("multiclass model with %d classes, want 2 to %d", h.Classes, maxClasses)
		}
	case learn.TaskRegression:
		if h.Classes != 0 {
			return bad("regression model with %d classes, want none", h.Classes)
		}
	default:
		return bad("unknown task %q", h.Task)
	}
	if len(h.Features) == 0 {
		return bad("model has no features")
	}
	seen := make(map[string]bool, len(h.Features))
	for _, name := range h.Features {
		if name == "" || seen[name] {
			return bad("feature name %q is empty or repeated", name)
		}
		seen[name] = true
	}
	return nil
}

func outputs(task learn.Task, classes int) int {
	if task == learn.TaskMulticlass {
		return classes
	}
	return 1
}

// Reason is the stable id of why a model file was refused.
type Reason string

// Reasons.
const (
	ReasonNotModelFile       Reason = "not_model_file"      // not JSON, or not format tributary.model
	ReasonUnsupportedVersion Reason = "unsupported_version" // a version this build does not read
	ReasonUnknownKind        Reason = "unknown_model_kind"  // a kind this build does not know
	ReasonCorrupt            Reason = "corrupt_model"       // the header or the model does not hold together
)

// Error says why a model file was refused. Match it with errors.Is against
// the Err values, or read Reason with errors.As.
type Error struct {
	Reason Reason
	Detail string
	Err    error // the decoder's error, if any
}

func (e *Error) Error() string { return fmt.Sprintf("load model file: %s: %s", e.Reason, e.Detail) }

func (e *Error) Unwrap() error { return e.Err }

// Is matches an Error of the same reason without detail (the Err values).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Detail == "" && t.Reason == e.Reason
}

// Errors to match with errors.Is.
var (
	ErrNotModelFile       = &Error{Reason: ReasonNotModelFile}
	ErrUnsupportedVersion = &Error{Reason: ReasonUnsupportedVersion}
	ErrUnknownKind        = &Error{Reason: ReasonUnknownKind}
	ErrCorrupt            = &Error{Reason: ReasonCorrupt}
)
