package main

import (
	"fmt"
	"math"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metrics are the metric families of one /metrics answer (Prometheus text
// format), by name.
type metrics map[string]*dto.MetricFamily

func parseMetrics(text string) (metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return fams, nil
}

// sum adds the values of the counter or gauge series of name whose labels
// include every pair of match, grouped by the value of the label by (one
// group "" when by is empty).
func (m metrics) sum(name, by string, match map[string]string) map[string]float64 {
	out := map[string]float64{}
	f := m[name]
	if f == nil {
		return out
	}
	for _, s := range f.GetMetric() {
		labels := labelMap(s)
		if !matches(labels, match) {
			continue
		}
		v := s.GetCounter().GetValue()
		if s.Gauge != nil {
			v = s.GetGauge().GetValue()
		}
		out[labels[by]] += v
	}
	return out
}

// quantile estimates the q-quantile of the histogram name (all its series
// added up) the way PromQL's histogram_quantile does: linear interpolation
// within the bucket that holds it. ok is false when the histogram has no
// observation.
func (m metrics) quantile(name string, q float64) (v float64, count uint64, ok bool) {
	f := m[name]
	if f == nil {
		return 0, 0, false
	}
	cum := map[float64]uint64{}
	for _, s := range f.GetMetric() {
		h := s.GetHistogram()
		if h == nil {
			continue
		}
		count += h.GetSampleCount()
		for _, b := range h.GetBucket() {
			cum[b.GetUpperBound()] += b.GetCumulativeCount()
		}
	}
	if count == 0 {
		return 0, 0, false
	}
	bounds := make([]float64, 0, len(cum))
	for b := range cum {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	rank := q * float64(count)
	lower, below := 0.0, uint64(0)
	for _, b := range bounds {
		c := cum[b]
		if float64(c) >= rank {
			if math.IsInf(b, 1) {
				return lower, count, true // above the largest finite bound
			}
			inBucket := c - below
			if inBucket == 0 {
				return b, count, true
			}
			return lower + (b-lower)*(rank-float64(below))/float64(inBucket), count, true
		}
		lower, below = b, c
	}
	return lower, count, true // the +Inf bucket is missing: the largest bound
}

func labelMap(s *dto.Metric) map[string]string {
	out := make(map[string]string, len(s.GetLabel()))
	for _, l := range s.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func matches(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}
