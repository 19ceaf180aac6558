package windows

import (
	"fmt"
	"time"

	"github.com/tributary-ml/tributary/libs/drift"
	"github.com/tributary-ml/tributary/libs/event"
)

// Targets.
const (
	TargetFeature    = "feature"
	TargetPrediction = "prediction"
)

// Data-quality checks, the names in data_quality.breaches.
const (
	CheckMissing    = event.QualityMissing
	CheckOutOfRange = event.QualityOutOfRange
	CheckUnseen     = event.QualityUnseen
)

// MetricRow is a row of drift_metrics.
type MetricRow struct {
	Model            string
	Version          uint32
	Target, Feature  string
	Method           string
	Start, End       time.Time
	SizeSeconds      uint32
	Value            float64
	PValue           *float64
	Threshold, Bound float64
	Drifted          bool
	Skipped          string
	SampleSize       uint64
	ComputedMs       uint64
}

// QualityRow is a row of data_quality.
type QualityRow struct {
	Model           string
	Version         uint32
	Target, Feature string
	Start, End      time.Time
	SizeSeconds     uint32
	Quality         drift.Quality
	Breaches        []string
	ComputedMs      uint64
}

// Result is what a closed window gives.
type Result struct {
	Metrics []MetricRow
	Quality []QualityRow
	// Alerts are the drifted metrics, one per breach.
	Alerts []event.DriftDetected
	// QualityAlerts are the data-quality breaches, one per check.
	QualityAlerts []event.DataQualityBreached
}

// Evaluate compares a closed window with its reference.
func Evaluate(c Closed, cfg Config, now time.Time) (Result, error) {
	if !c.Ref.OK {
		return Result{}, fmt.Errorf("compare window %s v%d: reference unknown", c.Key.Model, c.Key.Version)
	}
	rep, err := drift.CompareWindow(c.Ref.Ref, c.Window, cfg.Drift)
	if err != nil {
		return Result{}, fmt.Errorf("compare window %s v%d %v at %v: %w", c.Key.Model, c.Key.Version, c.Key.Size, c.Key.Start, err)
	}
	var res Result
	frs := append(rep.Features, rep.Prediction)
	for i, fr := range frs {
		target, feature := TargetFeature, fr.Name
		if i == len(frs)-1 {
			target, feature = TargetPrediction, ""
		}
		base := MetricRow{
			Model: c.Key.Model, Version: uint32(c.Key.Version), Target: target, Feature: feature,
			Start: rep.Start, End: rep.End, SizeSeconds: uint32(c.Key.Size / time.Second),
			Skipped: fr.Skipped, SampleSize: uint64(fr.Count), ComputedMs: uint64(now.UnixMilli()),
		}
		for _, m := range fr.Metrics {
			row := base
			row.Method, row.Value, row.PValue, row.Threshold, row.Bound, row.Drifted = string(m.Method), m.Value, m.PValue, m.Threshold, m.Bound, m.Drifted && fr.Skipped == ""
			res.Metrics = append(res.Metrics, row)
			if row.Drifted {
				v := m.Value
				if m.PValue != nil {
					v = *m.PValue
				}
				res.Alerts = append(res.Alerts, event.DriftDetected{
					Model: c.Key.Model, Version: c.Key.Version, Target: driftTarget(target), Feature: feature,
					Metric: alertMetric(m.Method), Value: v, Threshold: m.Threshold,
					WindowStart: rep.Start, WindowEnd: rep.End, SampleSize: fr.Count,
				})
			}
		}
		q := QualityRow{
			Model: c.Key.Model, Version: uint32(c.Key.Version), Target: target, Feature: feature,
			Start: rep.Start, End: rep.End, SizeSeconds: base.SizeSeconds, Quality: fr.Quality,
			Breaches: []string{}, ComputedMs: base.ComputedMs,
		}
		if fr.Quality.Total >= cfg.Drift.MinCount {
			if fr.Quality.MissingShare > cfg.MissingShare {
				q.Breaches = append(q.Breaches, CheckMissing)
			}
			if fr.Quality.OutOfRangeShare > cfg.OutOfRangeShare {
				q.Breaches = append(q.Breaches, CheckOutOfRange)
			}
			if fr.Quality.UnseenShare > cfg.UnseenShare {
				q.Breaches = append(q.Breaches, CheckUnseen)
			}
		}
		for _, b := range q.Breaches {
			v, th := fr.Quality.MissingShare, cfg.MissingShare
			switch b {
			case CheckOutOfRange:
				v, th = fr.Quality.OutOfRangeShare, cfg.OutOfRangeShare
			case CheckUnseen:
				v, th = fr.Quality.UnseenShare, cfg.UnseenShare
			}
			res.QualityAlerts = append(res.QualityAlerts, event.DataQualityBreached{
				Model: c.Key.Model, Version: c.Key.Version, Target: driftTarget(target), Feature: feature,
				Check: b, Value: v, Threshold: th, WindowStart: rep.Start, WindowEnd: rep.End, SampleSize: fr.Quality.Total,
			})
		}
		res.Quality = append(res.Quality, q)
	}
	return res, nil
}

func driftTarget(t string) event.DriftTarget {
	if t == TargetPrediction {
		return event.DriftTargetPrediction
	}
	return event.DriftTargetFeature
}

// alertMetric is the event's name of a drift method.
func alertMetric(m drift.Method) event.DriftMetric {
	switch m {
	case drift.MethodJensenShannon:
		return event.DriftJS
	case drift.MethodChiSquare:
		return event.DriftChiSquared
	case drift.MethodWasserstein:
		return event.DriftWasserstein
	case drift.MethodKS:
		return event.DriftKS
	}
	return event.DriftPSI
}
