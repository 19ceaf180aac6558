package predlog

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Reasons a record is dropped: the reason label of
// tributary_serving_predictions_dropped_total.
const (
	// ReasonTooLarge: the record is larger than prediction-log.max-record-bytes.
	ReasonTooLarge = "too_large"
	// ReasonInvalid: the entry has no id or no source.
	ReasonInvalid = "invalid"
	// ReasonQueueFull: the hand-off queue to the background loop is full
	// (the loop does not keep up: a stalled disk).
	ReasonQueueFull = "queue_full"
	// ReasonBufferFull: memory is full and there is no spill directory.
	ReasonBufferFull = "buffer_full"
	// ReasonSpillFull: memory and the spill are both full; the newest
	// record is dropped.
	ReasonSpillFull = "spill_full"
	// ReasonSpillError: the spill could not be written (a disk error).
	ReasonSpillError = "spill_error"
	// ReasonRejected: Kafka refused the record for good (too large for the
	// broker, invalid).
	ReasonRejected = "rejected"
	// ReasonClosed: Log was called after the log stopped.
	ReasonClosed = "closed"
	// ReasonShutdown: at shutdown the record could be neither sent nor
	// spilled.
	ReasonShutdown = "shutdown"
)

var reasons = [...]string{ReasonTooLarge, ReasonInvalid, ReasonQueueFull, ReasonBufferFull, ReasonSpillFull, ReasonSpillError, ReasonRejected, ReasonClosed, ReasonShutdown}

type metrics struct {
	dropped      [len(reasons)]prometheus.Counter
	sent         prometheus.Counter
	retried      prometheus.Counter
	spilled      prometheus.Counter
	replayed     prometheus.Counter
	sendDuration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, l *Log) *metrics {
	f := promauto.With(reg)
	dropped := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_serving_predictions_dropped_total",
		Help: "Prediction log records dropped, by reason (too_large, invalid, queue_full, buffer_full, spill_full, spill_error, rejected, closed, shutdown).",
	}, []string{"reason"})
	m := &metrics{}
	for i, r := range reasons {
		m.dropped[i] = dropped.WithLabelValues(r)
	}
	m.sent = f.NewCounter(prometheus.CounterOpts{
		Name: "tributary_serving_prediction_log_sent_total",
		Help: "Prediction log records acknowledged by Kafka.",
	})
	m.retried = f.NewCounter(prometheus.CounterOpts{
		Name: "tributary_serving_prediction_log_retries_total",
		Help: "Prediction log records that failed to produce and are sent again.",
	})
	m.spilled = f.NewCounter(prometheus.CounterOpts{
		Name: "tributary_serving_prediction_log_spilled_total",
		Help: "Prediction log records written to the spill directory.",
	})
	m.replayed = f.NewCounter(prometheus.CounterOpts{
		Name: "tributary_serving_prediction_log_spill_read_total",
		Help: "Prediction log records read back from the spill to be sent.",
	})
	m.sendDuration = f.NewHistogram(prometheus.HistogramOpts{
		Name:    "tributary_serving_prediction_log_send_duration_seconds",
		Help:    "Time from handing a prediction log record to the Kafka client to its acknowledgement.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_serving_prediction_log_queued_records",
		Help: "Prediction log records held in memory: queued and in flight to Kafka.",
	}, func() float64 { return float64(l.stats.queuedRecords.Load()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_serving_prediction_log_queued_bytes",
		Help: "Bytes of prediction log records held in memory.",
	}, func() float64 { return float64(l.stats.queuedBytes.Load()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_serving_prediction_log_spill_bytes",
		Help: "Bytes of the spill segment files (records not yet all acknowledged).",
	}, func() float64 { return float64(l.stats.spillBytes.Load()) })
	return m
}
