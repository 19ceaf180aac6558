// Package windows keeps the monitor's drift state in the stream: per model
// version, window size and tumbling window, a libs/drift Window (mergeable,
// bounded sketches) fed from each prediction. A window closes when the
// event-time watermark (the newest event time seen minus the allowed
// lateness) passes its end; closing compares it with the version's reference
// and gives the drift_metrics and data_quality rows and the alerts.
package windows

import (
	"errors"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-ml/tributary/libs/drift"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/services/monitor/internal/predlog"
)

// Config configures the windows and the data-quality thresholds.
type Config struct {
	// Sizes are the tumbling window lengths, e.g. 5m and 1h.
	Sizes []time.Duration
	// Lateness is how far behind the newest event time seen a prediction
	// may arrive and still count in its window.
	Lateness time.Duration
	Drift    drift.Config
	// Data-quality thresholds: a share above them is a breach.
	MissingShare    float64
	OutOfRangeShare float64
	UnseenShare     float64
}

// RegisterFlags registers the flags under "drift.".
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Sizes = []time.Duration{5 * time.Minute, time.Hour}
	fs.Func("drift.windows", "Comma-separated tumbling window lengths drift and data quality are computed over (default 5m,1h).", func(s string) error {
		var sizes []time.Duration
		for _, p := range strings.Split(s, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(p))
			if err != nil {
				return err
			}
			sizes = append(sizes, d)
		}
		c.Sizes = sizes
		return nil
	})
	fs.DurationVar(&c.Lateness, "drift.lateness", time.Minute, "How far behind the newest prediction time seen a prediction may arrive and still count in its window; a window closes when the newest time minus this passes its end.")
	c.Drift.RegisterFlags(fs, "drift.")
	fs.Float64Var(&c.MissingShare, "quality.missing-share", 0.1, "Share of missing values of a feature in a window above which data quality is breached.")
	fs.Float64Var(&c.OutOfRangeShare, "quality.out-of-range-share", 0.05, "Share of values outside the reference's [min, max] above which data quality is breached.")
	fs.Float64Var(&c.UnseenShare, "quality.unseen-share", 0.05, "Share of values of categories the reference does not know above which data quality is breached.")
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Sizes) == 0 {
		return errors.New("drift.windows: none")
	}
	for _, s := range c.Sizes {
		if s < time.Second || s%time.Second != 0 {
			return fmt.Errorf("drift.windows: %v is not a positive whole number of seconds", s)
		}
	}
	if c.Lateness < 0 {
		return fmt.Errorf("drift.lateness: %v is negative", c.Lateness)
	}
	for _, q := range []struct {
		name string
		v    float64
	}{{"quality.missing-share", c.MissingShare}, {"quality.out-of-range-share", c.OutOfRangeShare}, {"quality.unseen-share", c.UnseenShare}} {
		if !(q.v >= 0 && q.v <= 1) {
			return fmt.Errorf("%s: %v is not in [0, 1]", q.name, q.v)
		}
	}
	return c.Drift.Validate()
}

// Key identifies one window of one model version.
type Key struct {
	Model   string
	Version int
	Size    time.Duration
	Start   time.Time
}

// Reference is a version's reference, OK false when the tracker does not
// know it (a window restored from a snapshot).
type Reference struct {
	Ref model.Reference
	OK  bool
}

// Closed is a window that closed, with its reference.
type Closed struct {
	Key    Key
	Window *drift.Window
	Ref    Reference
}

// Tracker holds the open windows. It is not safe for concurrent use.
type Tracker struct {
	cfg       Config
	open      map[Key]*drift.Window
	refs      map[Key]Reference // by Key with Size and Start zero
	newest    time.Time
	watermark time.Time
}

// NewTracker returns a tracker with no open window.
func NewTracker(cfg Config) *Tracker {
	return &Tracker{cfg: cfg, open: map[Key]*drift.Window{}, refs: map[Key]Reference{}}
}

// Outcome of Add.
type Outcome int

// Outcomes.
const (
	Added Outcome = iota
	// Late: the prediction's window had closed already.
	Late
)

// Add counts p in its window of every size, against ref (the reference of
// p's model version). It does not close windows: Close does.
func (t *Tracker) Add(p predlog.Prediction, ref model.Reference) (Outcome, error) {
	at := p.EventTime.UTC()
	if at.After(t.newest) {
		t.newest = at
	}
	vk := Key{Model: p.Model, Version: p.Version}
	t.refs[vk] = Reference{Ref: ref, OK: true}
	outcome := Added
	for _, size := range t.cfg.Sizes {
		start := drift.WindowStart(at, size)
		if !start.Add(size).After(t.watermark) {
			outcome = Late
			continue
		}
		k := Key{Model: p.Model, Version: p.Version, Size: size, Start: start}
		w, ok := t.open[k]
		if !ok {
			var err error
			if w, err = drift.NewWindow(ref, start, size); err != nil {
				return Added, fmt.Errorf("window of %s v%d: %w", p.Model, p.Version, err)
			}
			t.open[k] = w
		}
		if err := add(w, p); err != nil {
			return Added, fmt.Errorf("add prediction %s to its window: %w", p.PredictionID, err)
		}
	}
	return outcome, nil
}

func add(w *drift.Window, p predlog.Prediction) error {
	for i, name := range w.Names() {
		s := w.Feature(i)
		if c, ok := p.CategoricalFeatures[name]; ok && s.Kind() == model.KindCategorical {
			// A categorical feature as served: its category.
			if c == nil {
				s.AddMissing()
			} else if err := s.AddString(*c); err != nil {
				return fmt.Errorf("feature %q: %w", name, err)
			}
			continue
		}
		v, ok := p.Features[name]
		if !ok || v == nil {
			s.AddMissing()
			continue
		}
		if err := addValue(s, *v); err != nil {
			return fmt.Errorf("feature %q: %w", name, err)
		}
	}
	if err := addValue(w.Prediction(), p.Prediction); err != nil {
		return fmt.Errorf("prediction: %w", err)
	}
	return nil
}

// addValue adds a number; a categorical sketch gets it as its decimal text
// (a class index, a category code).
func addValue(s *drift.Sketch, v float64) error {
	if s.Kind() == model.KindCategorical {
		return s.AddString(strconv.FormatFloat(v, 'g', -1, 64))
	}
	return s.AddFloat(v)
}

// Watermark is the newest event time seen minus the lateness.
func (t *Tracker) Watermark() time.Time { return t.watermark }

// Open is the number of open windows.
func (t *Tracker) Open() int { return len(t.open) }

// Close removes and returns the windows whose end the watermark has passed,
// oldest first.
func (t *Tracker) Close() []Closed {
	if !t.newest.IsZero() {
		if wm := t.newest.Add(-t.cfg.Lateness); wm.After(t.watermark) {
			t.watermark = wm
		}
	}
	var out []Closed
	for k, w := range t.open {
		if !w.End().After(t.watermark) {
			out = append(out, Closed{Key: k, Window: w, Ref: t.refs[Key{Model: k.Model, Version: k.Version}]})
			delete(t.open, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Key, out[j].Key
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.Size != b.Size {
			return a.Size < b.Size
		}
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		return a.Version < b.Version
	})
	return out
}
