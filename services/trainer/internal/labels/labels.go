// Package labels counts the labels that arrived for a label stream, from
// the ClickHouse table labels that the features service writes: what the
// trainer's new-labels trigger reads.
package labels

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ClickHouse counts labels in database.labels.
type ClickHouse struct {
	conn     driver.Conn
	database string
}

// New returns a counter over a connection; database is validated by
// chx.Config.
func New(conn driver.Conn, database string) *ClickHouse {
	return &ClickHouse{conn: conn, database: database}
}

// Count returns the number of distinct labels of stream that ingest accepted
// at or after since (a label replayed into the table counts once).
func (c *ClickHouse) Count(ctx context.Context, stream string, since time.Time) (int64, error) {
	var n uint64
	q := "SELECT count() FROM (SELECT 1 FROM " + c.database + ".labels WHERE stream = ? AND (ingest_time > ? OR (ingest_time = ? AND ingest_time_ms >= ?)) GROUP BY stream, entity_key, event_time, event_time_ms, source, event_id)"
	s := since.UTC().Truncate(time.Second)
	if err := c.conn.QueryRow(ctx, q, stream, s, s, uint16(since.UTC().Nanosecond()/1e6)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count labels of %s: %w", stream, err)
	}
	return int64(n), nil
}
