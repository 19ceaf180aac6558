package performance

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Label is a decoded label, as monitor_labels keeps it.
type Label struct {
	// ID is the label event's identity: source, "/", id.
	ID           string
	Stream       string
	EntityKey    string
	EventTime    time.Time
	Value        float64
	PredictionID string
	// IngestTime is the Kafka record's timestamp.
	IngestTime time.Time
	Partition  int32
	Offset     int64
}

// Prediction is a logged prediction, as the join reads it.
type Prediction struct {
	ID            string
	Model         string
	Version       uint32
	Route         string
	EntityKey     string
	Time          time.Time
	Prediction    float64
	FeatureNames  []string
	FeatureValues []*float64
}

// Feature returns the value of a feature of the prediction, as decimal text
// ("" when it is missing or null).
func (p Prediction) Feature(name string) string {
	for i, n := range p.FeatureNames {
		if n == name {
			if i < len(p.FeatureValues) && p.FeatureValues[i] != nil {
				return FormatGroup(*p.FeatureValues[i])
			}
			return ""
		}
	}
	return ""
}

// FormatGroup is the group name of an attribute value: its shortest
// decimal text ("1", "0.5").
func FormatGroup(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Joined is a row of prediction_labels.
type Joined struct {
	Prediction
	Label          float64
	LabelID        string
	LabelTime      time.Time
	ByEntity       bool
	Attribute      string
	AttributeValue string
	LabelIngestMs  uint64
}

// Store reads and writes the monitor's label and performance tables.
type Store struct {
	conn driver.Conn
	db   string
}

// NewStore returns a store in database db (a checked identifier).
func NewStore(conn driver.Conn, db string) *Store { return &Store{conn: conn, db: db} }

func secMs(t time.Time) (time.Time, uint16) {
	t = t.UTC()
	return t.Truncate(time.Second), uint16(t.Nanosecond() / int(time.Millisecond))
}

// InsertLabels appends labels to monitor_labels.
func (s *Store) InsertLabels(ctx context.Context, ls []Label) error {
	if len(ls) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".monitor_labels (label_id, stream, entity_key, event_time, event_time_ms, value, prediction_id, ingest_time, ingest_time_ms, kafka_partition, kafka_offset)")
	if err != nil {
		return fmt.Errorf("prepare monitor_labels insert: %w", err)
	}
	for _, l := range ls {
		et, etms := secMs(l.EventTime)
		it, itms := secMs(l.IngestTime)
		if err := b.Append(l.ID, l.Stream, l.EntityKey, et, etms, l.Value, l.PredictionID, it, itms, l.Partition, l.Offset); err != nil {
			_ = b.Abort()
			return fmt.Errorf("append monitor_labels row %s: %w", l.ID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d monitor_labels rows: %w", len(ls), err)
	}
	return nil
}

// Pending returns up to limit labels that reached Kafka at or after since
// and have no row in prediction_labels yet, oldest first.
func (s *Store) Pending(ctx context.Context, since time.Time, limit int) ([]Label, error) {
	q := "SELECT label_id, stream, entity_key, event_time, event_time_ms, value, prediction_id, ingest_time, ingest_time_ms, kafka_partition, kafka_offset FROM " + s.db + ".monitor_labels FINAL" +
		" WHERE ingest_time >= ? AND label_id NOT IN (SELECT label_id FROM " + s.db + ".prediction_labels)" +
		" ORDER BY ingest_time, label_id LIMIT " + strconv.Itoa(limit)
	rows, err := s.conn.Query(ctx, q, since.UTC().Truncate(time.Second))
	if err != nil {
		return nil, fmt.Errorf("read pending labels: %w", err)
	}
	defer rows.Close()
	var out []Label
	for rows.Next() {
		var l Label
		var etms, itms uint16
		if err := rows.Scan(&l.ID, &l.Stream, &l.EntityKey, &l.EventTime, &etms, &l.Value, &l.PredictionID, &l.IngestTime, &itms, &l.Partition, &l.Offset); err != nil {
			return nil, fmt.Errorf("read pending labels: %w", err)
		}
		l.EventTime = l.EventTime.Add(time.Duration(etms) * time.Millisecond).UTC()
		l.IngestTime = l.IngestTime.Add(time.Duration(itms) * time.Millisecond).UTC()
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pending labels: %w", err)
	}
	return out, nil
}

const predictionColumns = "prediction_id, model, version, route, entity_key, event_time, event_time_ms, prediction, feature_names, feature_values"

func (s *Store) predictions(ctx context.Context, where string, args ...any) ([]Prediction, error) {
	// LIMIT 1 BY: each prediction once, before the copies of a replay
	// merge.
	q := "SELECT " + predictionColumns + " FROM " + s.db + ".prediction_log WHERE " + where + " LIMIT 1 BY prediction_id"
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read predictions: %w", err)
	}
	defer rows.Close()
	var out []Prediction
	for rows.Next() {
		var p Prediction
		var ms uint16
		if err := rows.Scan(&p.ID, &p.Model, &p.Version, &p.Route, &p.EntityKey, &p.Time, &ms, &p.Prediction, &p.FeatureNames, &p.FeatureValues); err != nil {
			return nil, fmt.Errorf("read predictions: %w", err)
		}
		p.Time = p.Time.Add(time.Duration(ms) * time.Millisecond).UTC()
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read predictions: %w", err)
	}
	return out, nil
}

// ByID returns the logged predictions of ids.
func (s *Store) ByID(ctx context.Context, ids []string) ([]Prediction, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return s.predictions(ctx, "has(?, prediction_id)", ids)
}

// ByEntity returns the logged predictions of models for entities made in
// in [from, to], to the second (event_time holds whole seconds; the
// caller filters the milliseconds).
func (s *Store) ByEntity(ctx context.Context, models, entities []string, from, to time.Time) ([]Prediction, error) {
	if len(models) == 0 || len(entities) == 0 {
		return nil, nil
	}
	return s.predictions(ctx, "has(?, model) AND has(?, entity_key) AND event_time >= ? AND event_time <= ?",
		models, entities, from.UTC().Truncate(time.Second), to.UTC().Truncate(time.Second))
}

// InsertJoined appends rows to prediction_labels.
func (s *Store) InsertJoined(ctx context.Context, js []Joined) error {
	if len(js) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".prediction_labels (prediction_id, model, version, route, entity_key, prediction_time, prediction_time_ms, prediction, label, label_id, label_time, joined_by, attribute, attribute_value, label_ingest_ms)")
	if err != nil {
		return fmt.Errorf("prepare prediction_labels insert: %w", err)
	}
	for _, j := range js {
		pt, ptms := secMs(j.Time)
		by := "prediction_id"
		if j.ByEntity {
			by = "entity"
		}
		if err := b.Append(j.ID, j.Model, j.Version, j.Route, j.EntityKey, pt, ptms, j.Prediction.Prediction, j.Label, j.LabelID, j.LabelTime.UTC().Truncate(time.Second), by, j.Attribute, j.AttributeValue, j.LabelIngestMs); err != nil {
			_ = b.Abort()
			return fmt.Errorf("append prediction_labels row %s: %w", j.ID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d prediction_labels rows: %w", len(js), err)
	}
	return nil
}

// Key names the predictions of one version and route.
type Key struct {
	Version uint32
	Route   string
}

// LabelledPair is a labelled prediction of a window.
type LabelledPair struct {
	Pair
	AttributeValue string
}

// Labelled returns the labelled predictions of model made in [start, end),
// by version and route; attributeValue is the sensitive attribute's value
// at join time.
func (s *Store) Labelled(ctx context.Context, model string, start, end time.Time) (map[Key][]LabelledPair, error) {
	rows, err := s.conn.Query(ctx, "SELECT version, route, prediction, label, attribute_value FROM "+s.db+".prediction_labels FINAL WHERE model = ? AND prediction_time >= ? AND prediction_time < ?", model, start.UTC(), end.UTC())
	if err != nil {
		return nil, fmt.Errorf("read labelled predictions of %s: %w", model, err)
	}
	defer rows.Close()
	out := map[Key][]LabelledPair{}
	for rows.Next() {
		var k Key
		var p LabelledPair
		if err := rows.Scan(&k.Version, &k.Route, &p.Prediction, &p.Label, &p.AttributeValue); err != nil {
			return nil, fmt.Errorf("read labelled predictions of %s: %w", model, err)
		}
		out[k] = append(out[k], p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read labelled predictions of %s: %w", model, err)
	}
	return out, nil
}

// GroupCount is what the prediction log holds of one group in a window.
type GroupCount struct {
	Group             string
	Predictions       uint64
	PredictedPositive uint64
}

// Counts returns, per version and route, the predictions of model made in
// [start, end) and, when attribute is set, their counts per value of the
// attribute (predicted positive: prediction at or above cut).
func (s *Store) Counts(ctx context.Context, model string, start, end time.Time, attribute string, cut float64) (map[Key][]GroupCount, error) {
	q := "SELECT version, route, feature_values[indexOf(feature_names, ?)] AS g, count(), countIf(prediction >= ?) FROM " + s.db + ".prediction_log FINAL" +
		" WHERE model = ? AND event_time >= ? AND event_time < ? GROUP BY version, route, g"
	rows, err := s.conn.Query(ctx, q, attribute, cut, model, start.UTC(), end.UTC())
	if err != nil {
		return nil, fmt.Errorf("count predictions of %s: %w", model, err)
	}
	defer rows.Close()
	out := map[Key][]GroupCount{}
	for rows.Next() {
		var k Key
		var g *float64
		var c GroupCount
		if err := rows.Scan(&k.Version, &k.Route, &g, &c.Predictions, &c.PredictedPositive); err != nil {
			return nil, fmt.Errorf("count predictions of %s: %w", model, err)
		}
		if g != nil {
			c.Group = FormatGroup(*g)
		}
		out[k] = append(out[k], c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count predictions of %s: %w", model, err)
	}
	return out, nil
}

// Breaches returns the breaches already recorded for the windows of model
// starting at start of size, by version and route, from model_performance
// and fairness_metrics.
func (s *Store) Breaches(ctx context.Context, model string, start time.Time, size time.Duration) (perf, fair map[Key][]string, err error) {
	read := func(table string) (map[Key][]string, error) {
		rows, err := s.conn.Query(ctx, "SELECT version, route, breaches FROM "+s.db+"."+table+" FINAL WHERE model = ? AND window_start = ? AND window_size_seconds = ?", model, start.UTC(), uint32(size/time.Second))
		if err != nil {
			return nil, fmt.Errorf("read %s breaches of %s: %w", table, model, err)
		}
		defer rows.Close()
		out := map[Key][]string{}
		for rows.Next() {
			var k Key
			var b []string
			if err := rows.Scan(&k.Version, &k.Route, &b); err != nil {
				return nil, fmt.Errorf("read %s breaches of %s: %w", table, model, err)
			}
			out[k] = append(out[k], b...)
		}
		return out, rows.Err()
	}
	if perf, err = read("model_performance"); err != nil {
		return nil, nil, err
	}
	if fair, err = read("fairness_metrics"); err != nil {
		return nil, nil, err
	}
	return perf, fair, nil
}

// Recent returns, for model version, the labelled-weighted mean of metric
// over its model_performance windows of size that end after since, and the
// labelled predictions they hold (0: none).
func (s *Store) Recent(ctx context.Context, model string, version int, metric string, size time.Duration, since time.Time) (float64, uint64, error) {
	if !isMetric(metric) {
		return 0, 0, fmt.Errorf("unknown metric %q", metric)
	}
	// metric is one of MetricNames: a column name, checked above.
	q := "SELECT sum(" + metric + " * labelled) / sum(labelled), sum(labelled) FROM " + s.db + ".model_performance FINAL" +
		" WHERE model = ? AND version = ? AND window_size_seconds = ? AND window_end > ? AND isNotNull(" + metric + ") AND labelled > 0"
	var v *float64
	var n uint64
	if err := s.conn.QueryRow(ctx, q, model, uint32(version), uint32(size/time.Second), since.UTC()).Scan(&v, &n); err != nil {
		return 0, 0, fmt.Errorf("read recent %s of %s v%d: %w", metric, model, version, err)
	}
	if v == nil || n == 0 {
		return 0, 0, nil
	}
	return *v, n, nil
}

func isMetric(name string) bool {
	for _, m := range MetricNames {
		if m == name {
			return true
		}
	}
	return false
}

func nullable(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// InsertResults appends the rows of model_performance and fairness_metrics,
// each table in one batch.
func (s *Store) InsertResults(ctx context.Context, perf []Row, fair []FairnessRow) error {
	if len(perf) > 0 {
		b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".model_performance (model, version, route, window_start, window_size_seconds, window_end, task, predictions, labelled, unlabelled, positives, decision_threshold, accuracy, precision, recall, f1, auc, log_loss, mae, rmse, breaches, computed_ms)")
		if err != nil {
			return fmt.Errorf("prepare model_performance insert: %w", err)
		}
		for _, r := range perf {
			br := r.Breaches
			if br == nil {
				br = []string{}
			}
			if err := b.Append(r.Model, r.Version, r.Route, r.Start.UTC(), uint32(r.Size/time.Second), r.End().UTC(), string(r.Task),
				r.Predictions, uint64(r.Labelled), r.Unlabelled, uint64(r.Positives), r.DecisionThreshold,
				nullable(r.Accuracy), nullable(r.Precision), nullable(r.Recall), nullable(r.F1), nullable(r.AUC), nullable(r.LogLoss), nullable(r.MAE), nullable(r.RMSE),
				br, r.ComputedMs); err != nil {
				_ = b.Abort()
				return fmt.Errorf("append model_performance row: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("insert %d model_performance rows: %w", len(perf), err)
		}
	}
	if len(fair) > 0 {
		b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".fairness_metrics (model, version, route, attribute, group_value, window_start, window_size_seconds, window_end, predictions, positive_rate, labelled, accuracy, true_positive_rate, false_positive_rate, demographic_parity_difference, equalized_odds_difference, breaches, computed_ms)")
		if err != nil {
			return fmt.Errorf("prepare fairness_metrics insert: %w", err)
		}
		for _, r := range fair {
			br := r.Breaches
			if br == nil {
				br = []string{}
			}
			g := r.Group
			if err := b.Append(r.Model, r.Version, r.Route, r.Attribute, g.Value, r.Start.UTC(), uint32(r.Size/time.Second), r.End().UTC(),
				uint64(g.Predictions), g.PositiveRate(), uint64(g.Labelled()), nullable(g.Accuracy()), nullable(g.TPR()), nullable(g.FPR()),
				r.Result.DemographicParity, nullable(r.Result.EqualizedOdds), br, r.ComputedMs); err != nil {
				_ = b.Abort()
				return fmt.Errorf("append fairness_metrics row: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("insert %d fairness_metrics rows: %w", len(fair), err)
		}
	}
	return nil
}
