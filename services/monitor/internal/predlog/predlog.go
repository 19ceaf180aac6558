// Package predlog is the monitor's prediction log: it decodes the prediction
// records of tributary.predictions and appends them, in batches, to the
// ClickHouse table prediction_log (schemas/clickhouse/004_prediction_log.sql,
// with the categorical features of 008_prediction_log_categorical.sql).
package predlog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/reason"
)

// Prediction is a decoded prediction record: the event's data, and what
// serving may add to it (feature_ages_seconds) before libs/event has it.
type Prediction struct {
	event.PredictionLogged
	// FeatureAgesSeconds is the age of each feature value at prediction
	// time, by feature reference; nil when serving did not report it.
	FeatureAgesSeconds map[string]float64 `json:"feature_ages_seconds,omitempty"`

	// names and values are the features in sorted order, when the decoder
	// read them so (nil otherwise); names may be shared with other
	// predictions.
	names  []string
	values []*float64
	// catNames and catValues are the categorical features so.
	catNames  []string
	catValues []*string
}

// RecordError is a record that cannot be logged, with its stable reason.
type RecordError struct {
	Reason reason.ID
	Err    error
}

func (e *RecordError) Error() string { return string(e.Reason) + ": " + e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

// Decode reads the prediction of a Kafka record (a CloudEvent in binary
// mode of type tributary.prediction.logged.v1). A record that cannot be
// logged gives a *RecordError.
func Decode(r *kgo.Record) (Prediction, error) {
	var d *Decoder
	return d.Decode(r)
}

// Decode is the package's Decode, with what d keeps from the records
// before.
func (d *Decoder) Decode(r *kgo.Record) (Prediction, error) {
	typ, data, err := d.envelope(r)
	if err != nil {
		return Prediction{}, &RecordError{reason.UndecodableEvent, err}
	}
	if typ != event.TypePredictionLogged {
		return Prediction{}, &RecordError{reason.BadPrediction, fmt.Errorf("type %q on the predictions topic", typ)}
	}
	var p Prediction
	if err := decodeData(d, data, &p); err != nil {
		return Prediction{}, &RecordError{reason.UndecodableEvent, fmt.Errorf("prediction data: %w", err)}
	}
	switch {
	case p.PredictionID == "":
		err = errors.New("no prediction_id")
	case p.Model == "":
		err = errors.New("no model")
	case p.Version < 1 || p.Version > math.MaxUint32:
		err = fmt.Errorf("version %d out of range", p.Version)
	case p.EntityKey == "":
		err = errors.New("no entity_key")
	case p.EventTime.IsZero():
		err = errors.New("no event_time")
	}
	if err != nil {
		return Prediction{}, &RecordError{reason.BadPrediction, err}
	}
	return p, nil
}

// Row is a row of prediction_log.
type Row struct {
	PredictionID  string
	EventTime     time.Time
	Model         string
	Version       uint32
	Route         string
	Shadow        bool
	EntityKey     string
	FeatureNames  []string
	FeatureValues []*float64
	// CategoricalNames are the categorical features, sorted, parallel to
	// CategoricalValues (nil where the entity had no value); empty, not
	// nil, when the record has none.
	CategoricalNames  []string
	CategoricalValues []*string
	Prediction        float64
	Probabilities     []float64
	Latency           float64
	AgeNames          []string
	AgeSeconds        []float64
	LoggedTime        time.Time
	Partition         int32
	Offset            int64
}

// NewRow is the row of p, read from record r.
func NewRow(p Prediction, r *kgo.Record) Row {
	row := Row{
		PredictionID: p.PredictionID, EventTime: p.EventTime, Model: p.Model, Version: uint32(p.Version),
		Route: p.Alias, Shadow: p.Shadow, EntityKey: p.EntityKey, Prediction: p.Prediction,
		Probabilities: p.Probabilities, Latency: p.LatencySeconds, LoggedTime: r.Timestamp,
		Partition: r.Partition, Offset: r.Offset,
	}
	if p.names != nil && len(p.names) == len(p.Features) {
		row.FeatureNames, row.FeatureValues = p.names, p.values
	} else {
		row.FeatureNames = sortedKeys(p.Features)
		row.FeatureValues = make([]*float64, len(row.FeatureNames))
		for i, n := range row.FeatureNames {
			row.FeatureValues[i] = p.Features[n]
		}
	}
	if p.catNames != nil && len(p.catNames) == len(p.CategoricalFeatures) {
		row.CategoricalNames, row.CategoricalValues = p.catNames, p.catValues
	} else {
		row.CategoricalNames = sortedKeys(p.CategoricalFeatures)
		row.CategoricalValues = make([]*string, len(row.CategoricalNames))
		for i, n := range row.CategoricalNames {
			row.CategoricalValues[i] = p.CategoricalFeatures[n]
		}
	}
	row.AgeNames = sortedKeys(p.FeatureAgesSeconds)
	row.AgeSeconds = make([]float64, len(row.AgeNames))
	for i, n := range row.AgeNames {
		row.AgeSeconds[i] = p.FeatureAgesSeconds[n]
	}
	if row.Probabilities == nil {
		row.Probabilities = []float64{}
	}
	return row
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Columns is the explicit column list of the insert, in Row's order.
const Columns = "prediction_id, event_time, event_time_ms, model, version, route, shadow, entity_key, feature_names, feature_values, categorical_feature_names, categorical_feature_values, prediction, probabilities, latency_seconds, feature_age_names, feature_age_seconds, logged_time, logged_time_ms, kafka_partition, kafka_offset"

// SecMs splits t into whole seconds (UTC) and milliseconds.
func SecMs(t time.Time) (time.Time, uint16) {
	t = t.UTC()
	return t.Truncate(time.Second), uint16(t.Nanosecond() / int(time.Millisecond))
}

// Args are the values of the row in the order of Columns.
func (r Row) Args() []any {
	et, etms := SecMs(r.EventTime)
	lt, ltms := SecMs(r.LoggedTime)
	var shadow uint8
	if r.Shadow {
		shadow = 1
	}
	return []any{r.PredictionID, et, etms, r.Model, r.Version, r.Route, shadow, r.EntityKey,
		r.FeatureNames, r.FeatureValues, r.CategoricalNames, r.CategoricalValues, r.Prediction, r.Probabilities, r.Latency,
		r.AgeNames, r.AgeSeconds, lt, ltms, r.Partition, r.Offset}
}

// Writer appends rows to prediction_log.
type Writer struct {
	conn     driver.Conn
	database string
}

// NewWriter returns a writer into database (a checked identifier).
func NewWriter(conn driver.Conn, database string) *Writer {
	return &Writer{conn: conn, database: database}
}

// Insert appends rows in one batch. It returns once ClickHouse has them.
func (w *Writer) Insert(ctx context.Context, rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := w.conn.PrepareBatch(ctx, "INSERT INTO "+w.database+".prediction_log ("+Columns+")")
	if err != nil {
		return fmt.Errorf("prepare prediction_log insert: %w", err)
	}
	for _, r := range rows {
		if err := b.Append(r.Args()...); err != nil {
			_ = b.Abort()
			return fmt.Errorf("append prediction_log row %s: %w", r.PredictionID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d prediction_log rows: %w", len(rows), err)
	}
	return nil
}
