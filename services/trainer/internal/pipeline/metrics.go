package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the pipeline's Prometheus metrics.
type metrics struct {
	jobs     *prometheus.CounterVec
	steps    *prometheus.CounterVec
	duration prometheus.Histogram
}

// Instrument registers the pipeline's metrics on reg. Call it before the
// first Run.
func (p *Pipeline) Instrument(reg prometheus.Registerer) {
	f := promauto.With(reg)
	p.metrics = &metrics{
		jobs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_trainer_jobs_total",
			Help: "Training jobs ended, by outcome: succeeded, bad_input, deadline_exceeded or error.",
		}, []string{"outcome"}),
		steps: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_trainer_step_attempts_total",
			Help: "Attempts of job steps, by step and outcome: done, retried or failed.",
		}, []string{"step", "outcome"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_trainer_job_duration_seconds",
			Help:    "Wall time of ended training jobs, from their first start.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
	}
}

func (m *metrics) job(outcome string, seconds float64) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(outcome).Inc()
	m.duration.Observe(seconds)
}

func (m *metrics) step(step, outcome string) {
	if m != nil {
		m.steps.WithLabelValues(step, outcome).Inc()
	}
}
