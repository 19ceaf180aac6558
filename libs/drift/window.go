package drift

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tributary-ml/tributary/libs/model"
)

// WindowStart is the start of the tumbling window of the given size that
// holds t: t truncated to a multiple of size since the zero time, so 5 min
// and 1 h windows start on the clock's 5 minutes and hours (UTC), and
// twelve 5 min windows tile one 1 h window.
func WindowStart(t time.Time, size time.Duration) time.Time {
	return t.UTC().Truncate(size)
}

// Window is the sketches of one model version's features and prediction in
// one tumbling window [Start, End). Features are in the order of their
// sorted names; look a name up once with Index and add by position.
type Window struct {
	start, end time.Time
	names      []string
	features   []*Sketch
	prediction *Sketch
}

// NewWindow returns an empty window [start, start+size) with a sketch per
// feature of ref and one of its prediction.
func NewWindow(ref model.Reference, start time.Time, size time.Duration, opts ...SketchOption) (*Window, error) {
	if size <= 0 {
		return nil, fmt.Errorf("new window: size %v, want > 0", size)
	}
	w := &Window{start: start.UTC(), end: start.UTC().Add(size)}
	for name := range ref.Features {
		w.names = append(w.names, name)
	}
	slices.Sort(w.names)
	for _, name := range w.names {
		s, err := NewSketch(ref.Features[name], opts...)
		if err != nil {
			return nil, fmt.Errorf("new window: feature %q: %w", name, err)
		}
		w.features = append(w.features, s)
	}
	p, err := NewSketch(ref.Prediction, opts...)
	if err != nil {
		return nil, fmt.Errorf("new window: prediction: %w", err)
	}
	w.prediction = p
	return w, nil
}

// Start is the first instant of the window.
func (w *Window) Start() time.Time { return w.start }

// End is the first instant after the window.
func (w *Window) End() time.Time { return w.end }

// Names returns the feature names in sketch order.
func (w *Window) Names() []string { return slices.Clone(w.names) }

// Index returns the position of a feature's sketch.
func (w *Window) Index(name string) (int, bool) {
	i := sort.SearchStrings(w.names, name)
	return i, i < len(w.names) && w.names[i] == name
}

// Feature returns the sketch of the feature at position i (see Index).
func (w *Window) Feature(i int) *Sketch { return w.features[i] }

// Prediction returns the sketch of the prediction.
func (w *Window) Prediction() *Sketch { return w.prediction }

// Merge adds o, a window of the same reference, to w: w then spans from the
// earlier start to the later end. Merging the 5 min windows of an hour
// gives that hour's window.
func (w *Window) Merge(o *Window) error {
	if !slices.Equal(w.names, o.names) {
		return fmt.Errorf("merge windows: features differ: %w", ErrMismatch)
	}
	// Check every sketch before changing any, so a failed merge changes
	// nothing.
	for i := range w.features {
		if err := w.features[i].sameReference(o.features[i]); err != nil {
			return fmt.Errorf("merge windows: feature %q: %w", w.names[i], err)
		}
	}
	if err := w.prediction.sameReference(o.prediction); err != nil {
		return fmt.Errorf("merge windows: prediction: %w", err)
	}
	for i := range w.features {
		if err := w.features[i].Merge(o.features[i]); err != nil {
			return fmt.Errorf("merge windows: feature %q: %w", w.names[i], err)
		}
	}
	if err := w.prediction.Merge(o.prediction); err != nil {
		return fmt.Errorf("merge windows: prediction: %w", err)
	}
	if o.start.Before(w.start) {
		w.start = o.start
	}
	if o.end.After(w.end) {
		w.end = o.end
	}
	return nil
}

// snapshotVersion is the version of the window snapshot format.
const snapshotVersion = 1

type windowJSON struct {
	Version    int                `json:"version"`
	Start      time.Time          `json:"start"`
	End        time.Time          `json:"end"`
	Features   map[string]*Sketch `json:"features"`
	Prediction *Sketch            `json:"prediction"`
}

// MarshalJSON encodes the window as a snapshot from which a restarted
// monitor resumes it.
func (w *Window) MarshalJSON() ([]byte, error) {
	j := windowJSON{Version: snapshotVersion, Start: w.start, End: w.end, Features: make(map[string]*Sketch, len(w.names)), Prediction: w.prediction}
	for i, n := range w.names {
		j.Features[n] = w.features[i]
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes a window snapshot; an inconsistent one is an error
// wrapping ErrCorrupt.
func (w *Window) UnmarshalJSON(b []byte) error {
	var j windowJSON
	if err := json.Unmarshal(b, &j); err != nil {
		if errors.Is(err, ErrCorrupt) {
			return fmt.Errorf("decode window: %w", err)
		}
		return fmt.Errorf("decode window: %w: %w", ErrCorrupt, err)
	}
	switch {
	case j.Version != snapshotVersion:
		return fmt.Errorf("decode window: version %d, want %d: %w", j.Version, snapshotVersion, ErrCorrupt)
	case !j.End.After(j.Start):
		return fmt.Errorf("decode window: end %v not after start %v: %w", j.End, j.Start, ErrCorrupt)
	case j.Prediction == nil:
		return fmt.Errorf("decode window: no prediction: %w", ErrCorrupt)
	}
	*w = Window{start: j.Start.UTC(), end: j.End.UTC(), prediction: j.Prediction}
	for n := range j.Features {
		w.names = append(w.names, n)
	}
	slices.Sort(w.names)
	for _, n := range w.names {
		if j.Features[n] == nil {
			return fmt.Errorf("decode window: feature %q is null: %w", n, ErrCorrupt)
		}
		w.features = append(w.features, j.Features[n])
	}
	return nil
}

// DecodeWindow decodes a window snapshot made by MarshalJSON (or
// json.Marshal); every failure, malformed JSON included, wraps ErrCorrupt.
func DecodeWindow(b []byte) (*Window, error) {
	var w Window
	if err := json.Unmarshal(b, &w); err != nil {
		if !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("decode window: %w: %w", ErrCorrupt, err)
		}
		return nil, err
	}
	return &w, nil
}
