// Package reports writes the drift and data-quality rows of closed windows
// to the ClickHouse tables drift_metrics and data_quality
// (schemas/clickhouse/005_drift_metrics.sql, 006_data_quality.sql).
package reports

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tributary-ml/tributary/services/monitor/internal/windows"
)

// Writer appends rows to drift_metrics and data_quality.
type Writer struct {
	conn     driver.Conn
	database string
}

// NewWriter returns a writer into database (a checked identifier).
func NewWriter(conn driver.Conn, database string) *Writer {
	return &Writer{conn: conn, database: database}
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Insert appends the metrics and quality rows, each table in one batch.
func (w *Writer) Insert(ctx context.Context, metrics []windows.MetricRow, quality []windows.QualityRow) error {
	if len(metrics) > 0 {
		b, err := w.conn.PrepareBatch(ctx, "INSERT INTO "+w.database+".drift_metrics (model, version, target, feature, method, window_start, window_size_seconds, window_end, value, p_value, threshold, bound, drifted, skipped, sample_size, computed_ms)")
		if err != nil {
			return fmt.Errorf("prepare drift_metrics insert: %w", err)
		}
		for _, r := range metrics {
			if err := b.Append(r.Model, r.Version, r.Target, r.Feature, r.Method, r.Start, r.SizeSeconds, r.End, r.Value, r.PValue, r.Threshold, r.Bound, b2u(r.Drifted), r.Skipped, r.SampleSize, r.ComputedMs); err != nil {
				_ = b.Abort()
				return fmt.Errorf("append drift_metrics row: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("insert %d drift_metrics rows: %w", len(metrics), err)
		}
	}
	if len(quality) > 0 {
		b, err := w.conn.PrepareBatch(ctx, "INSERT INTO "+w.database+".data_quality (model, version, target, feature, window_start, window_size_seconds, window_end, total, missing, missing_share, below_range, above_range, out_of_range_share, unseen, unseen_share, breaches, computed_ms)")
		if err != nil {
			return fmt.Errorf("prepare data_quality insert: %w", err)
		}
		for _, r := range quality {
			q := r.Quality
			if err := b.Append(r.Model, r.Version, r.Target, r.Feature, r.Start, r.SizeSeconds, r.End, uint64(q.Total), uint64(q.Missing), q.MissingShare, uint64(q.Below), uint64(q.Above), q.OutOfRangeShare, uint64(q.Unseen), q.UnseenShare, r.Breaches, r.ComputedMs); err != nil {
				_ = b.Abort()
				return fmt.Errorf("append data_quality row: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("insert %d data_quality rows: %w", len(quality), err)
		}
	}
	return nil
}
