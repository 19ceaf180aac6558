package performance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/services/monitor/internal/fairness"
)

// Window is a tumbling window of one model's prediction times.
type Window struct {
	Model string
	Start time.Time
	Size  time.Duration
}

// End is the window's end (exclusive).
func (w Window) End() time.Time { return w.Start.Add(w.Size) }

// Windows are the windows (of every size in sizes) that a prediction of
// model made at t belongs to; windows are aligned to multiples of their
// size in UTC.
func Windows(model string, t time.Time, sizes []time.Duration) []Window {
	out := make([]Window, 0, len(sizes))
	for _, s := range sizes {
		out = append(out, Window{Model: model, Start: time.Unix(0, 0).UTC().Add(t.UTC().Sub(time.Unix(0, 0)).Truncate(s)), Size: s})
	}
	return out
}

// Row is a row of model_performance.
type Row struct {
	Window
	Key
	Task              Task
	Predictions       uint64
	Unlabelled        uint64
	DecisionThreshold float64
	Metrics
	Breaches   []string
	ComputedMs uint64
}

// FairnessRow is a row of fairness_metrics: one group of a window.
type FairnessRow struct {
	Window
	Key
	Attribute string
	Group     fairness.Group
	Result    fairness.Result
	Breaches  []string
	// ComputedMs as in Row.
	ComputedMs uint64
}

// Result is what evaluating windows gives.
type Result struct {
	Performance []Row
	Fairness    []FairnessRow
	// Degraded and FairnessBreached are the breaches not recorded in the
	// windows' earlier rows: the alerts to publish.
	Degraded         []event.PerformanceDegraded
	FairnessBreached []event.FairnessBreached
}

type reader interface {
	Labelled(ctx context.Context, model string, start, end time.Time) (map[Key][]LabelledPair, error)
	Counts(ctx context.Context, model string, start, end time.Time, attribute string, cut float64) (map[Key][]GroupCount, error)
	Breaches(ctx context.Context, model string, start time.Time, size time.Duration) (perf, fair map[Key][]string, err error)
}

// Evaluate recomputes each window from ClickHouse: its figures per version
// and route, its breaches, and the alerts of the breaches that its earlier
// rows did not have (so an alert is raised once per breach and window, also
// when a late label recomputes the window). An error is transient.
func Evaluate(ctx context.Context, cfg *Config, st reader, ws []Window, now time.Time) (Result, error) {
	var res Result
	for _, w := range ws {
		mc := cfg.Model(w.Model)
		cut := *mc.DecisionThreshold
		attr := ""
		if mc.Fairness != nil {
			attr = mc.Fairness.Attribute
		}
		labelled, err := st.Labelled(ctx, w.Model, w.Start, w.End())
		if err != nil {
			return Result{}, err
		}
		counts, err := st.Counts(ctx, w.Model, w.Start, w.End(), attr, cut)
		if err != nil {
			return Result{}, err
		}
		prevPerf, prevFair, err := st.Breaches(ctx, w.Model, w.Start, w.Size)
		if err != nil {
			return Result{}, err
		}
		keys := make([]Key, 0, len(labelled))
		for k := range labelled {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b Key) int {
			if a.Version != b.Version {
				return int(a.Version) - int(b.Version)
			}
			return compareStrings(a.Route, b.Route)
		})
		for _, k := range keys {
			lp := labelled[k]
			pairs := make([]Pair, len(lp))
			for i, p := range lp {
				pairs[i] = p.Pair
			}
			task := mc.Task
			if task == "" {
				task = detect(pairs)
			}
			var predictions uint64
			for _, g := range counts[k] {
				predictions += g.Predictions
			}
			row := Row{Window: w, Key: k, Task: task, Predictions: predictions, DecisionThreshold: cut, Metrics: Compute(task, cut, pairs), ComputedMs: uint64(now.UnixMilli())}
			if predictions > uint64(len(pairs)) {
				row.Unlabelled = predictions - uint64(len(pairs))
			}
			if len(pairs) >= mc.MinLabels {
				row.Breaches = breaches(mc, row.Metrics)
			}
			for _, b := range row.Breaches {
				if slices.Contains(prevPerf[k], b) {
					continue
				}
				v, _ := row.Get(b)
				th := threshold(mc, b)
				res.Degraded = append(res.Degraded, event.PerformanceDegraded{
					Model: w.Model, Version: int(k.Version), Route: k.Route, Metric: b, Value: v, Baseline: th, Threshold: &th,
					WindowStart: w.Start, WindowEnd: w.End(), SampleSize: int64(len(pairs)),
				})
			}
			res.Performance = append(res.Performance, row)
			if mc.Fairness != nil && task == Classification {
				fr, alerts := evaluateFairness(w, k, mc, cut, lp, counts[k], prevFair[k], now)
				res.Fairness = append(res.Fairness, fr...)
				res.FairnessBreached = append(res.FairnessBreached, alerts...)
			}
		}
	}
	return res, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// detect guesses the task of a model without one configured:
// classification when every label is 0 or 1 and every prediction in [0, 1].
func detect(pairs []Pair) Task {
	for _, p := range pairs {
		if (p.Label != 0 && p.Label != 1) || p.Prediction < 0 || p.Prediction > 1 {
			return Regression
		}
	}
	return Classification
}

func threshold(mc ModelConfig, metric string) float64 {
	if HigherIsBetter(metric) {
		return mc.Min[metric]
	}
	return mc.Max[metric]
}

// breaches are the metrics of m past the model's thresholds, in
// MetricNames order.
func breaches(mc ModelConfig, m Metrics) []string {
	var out []string
	for _, name := range MetricNames {
		v, ok := m.Get(name)
		if !ok {
			continue
		}
		if th, ok := mc.Min[name]; ok && v < th {
			out = append(out, name)
		}
		if th, ok := mc.Max[name]; ok && v > th {
			out = append(out, name)
		}
	}
	return out
}

func evaluateFairness(w Window, k Key, mc ModelConfig, cut float64, lp []LabelledPair, counts []GroupCount, prev []string, now time.Time) ([]FairnessRow, []event.FairnessBreached) {
	byGroup := map[string]*fairness.Group{}
	group := func(v string) *fairness.Group {
		g, ok := byGroup[v]
		if !ok {
			g = &fairness.Group{Value: v}
			byGroup[v] = g
		}
		return g
	}
	for _, c := range counts {
		g := group(c.Group)
		g.Predictions += int(c.Predictions)
		g.PredictedPositive += int(c.PredictedPositive)
	}
	for _, p := range lp {
		g := group(p.AttributeValue)
		pos, predPos := p.Label == 1, p.Prediction >= cut
		switch {
		case pos && predPos:
			g.TP++
		case pos:
			g.FN++
		case predPos:
			g.FP++
		default:
			g.TN++
		}
	}
	values := make([]string, 0, len(byGroup))
	for v := range byGroup {
		values = append(values, v)
	}
	slices.Sort(values)
	groups := make([]fairness.Group, len(values))
	for i, v := range values {
		groups[i] = *byGroup[v]
	}
	r := fairness.Compute(groups)
	var br []string
	var alerts []event.FairnessBreached
	f := mc.Fairness
	if r.Labelled >= mc.MinLabels {
		if r.DemographicParity > *f.MaxDemographicParity {
			br = append(br, event.FairnessDemographicParity)
		}
		if r.EqualizedOdds != nil && *r.EqualizedOdds > *f.MaxEqualizedOdds {
			br = append(br, event.FairnessEqualizedOdds)
		}
	}
	for _, b := range br {
		if slices.Contains(prev, b) {
			continue
		}
		a := event.FairnessBreached{Model: w.Model, Version: int(k.Version), Route: k.Route, Attribute: f.Attribute, Metric: b,
			WindowStart: w.Start, WindowEnd: w.End(), Groups: values}
		if b == event.FairnessDemographicParity {
			a.Value, a.Threshold, a.SampleSize = r.DemographicParity, *f.MaxDemographicParity, int64(r.Predictions)
		} else {
			a.Value, a.Threshold, a.SampleSize = *r.EqualizedOdds, *f.MaxEqualizedOdds, int64(r.Labelled)
		}
		alerts = append(alerts, a)
	}
	rows := make([]FairnessRow, len(groups))
	for i, g := range groups {
		rows[i] = FairnessRow{Window: w, Key: k, Attribute: f.Attribute, Group: g, Result: r, Breaches: br, ComputedMs: uint64(now.UnixMilli())}
	}
	return rows, alerts
}

// DegradedID is the event id of a performance alert: one per model,
// version, route, metric and window.
func DegradedID(d event.PerformanceDegraded) string {
	return "performance-" + hash(d.Model, strconv.Itoa(d.Version), d.Route, d.Metric, d.WindowStart.UTC().Format(time.RFC3339), d.WindowEnd.UTC().Format(time.RFC3339))
}

// FairnessID is the event id of a fairness alert.
func FairnessID(f event.FairnessBreached) string {
	return "fairness-" + hash(f.Model, strconv.Itoa(f.Version), f.Route, f.Attribute, f.Metric, f.WindowStart.UTC().Format(time.RFC3339), f.WindowEnd.UTC().Format(time.RFC3339))
}

func hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%s\x00", p)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
