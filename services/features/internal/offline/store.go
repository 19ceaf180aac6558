// Package offline is the features service's ClickHouse side: it appends the
// events and labels it consumes to the tables events and labels, reads them
// back, and builds point-in-time-correct training sets from them with the
// aggregation code of libs/tiles (the online path's own), written as Parquet.
package offline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tributary-ml/tributary/libs/tiles"
)

// EventRow is a row of the events table.
type EventRow struct {
	Stream, EventID, Source, Type, EntityKey string
	EventTime, IngestTime                    time.Time
	Partition                                int32
	Offset                                   int64
	Data                                     string
}

// LabelRow is a row of the labels table.
type LabelRow struct {
	Stream, EventID, Source, EntityKey string
	EventTime, IngestTime              time.Time
	Value                              float64
	PredictionID                       string
	Partition                          int32
	Offset                             int64
	Data                               string
}

// Store reads and writes the service's ClickHouse tables.
type Store struct {
	conn     driver.Conn
	database string
}

// NewStore returns a Store over database (a checked identifier).
func NewStore(conn driver.Conn, database string) *Store {
	return &Store{conn: conn, database: database}
}

func secMs(t time.Time) (time.Time, uint16) {
	t = t.UTC()
	return t.Truncate(time.Second), uint16(t.Nanosecond() / int(time.Millisecond))
}

// InsertEvents appends rows to the events table in one batch.
func (s *Store) InsertEvents(ctx context.Context, rows []EventRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.database+".events (stream, event_id, source, type, entity_key, event_time, event_time_ms, ingest_time, ingest_time_ms, kafka_partition, kafka_offset, data)")
	if err != nil {
		return fmt.Errorf("prepare events insert: %w", err)
	}
	for _, r := range rows {
		et, etms := secMs(r.EventTime)
		it, itms := secMs(r.IngestTime)
		if err := b.Append(r.Stream, r.EventID, r.Source, r.Type, r.EntityKey, et, etms, it, itms, r.Partition, r.Offset, r.Data); err != nil {
			_ = b.Abort()
			return fmt.Errorf("append event row: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d events: %w", len(rows), err)
	}
	return nil
}

// InsertLabels appends rows to the labels table in one batch.
func (s *Store) InsertLabels(ctx context.Context, rows []LabelRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.database+".labels (stream, event_id, source, entity_key, event_time, event_time_ms, value, prediction_id, ingest_time, ingest_time_ms, kafka_partition, kafka_offset, data)")
	if err != nil {
		return fmt.Errorf("prepare labels insert: %w", err)
	}
	for _, r := range rows {
		et, etms := secMs(r.EventTime)
		it, itms := secMs(r.IngestTime)
		if err := b.Append(r.Stream, r.EventID, r.Source, r.EntityKey, et, etms, r.Value, r.PredictionID, it, itms, r.Partition, r.Offset, r.Data); err != nil {
			_ = b.Abort()
			return fmt.Errorf("append label row: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d labels: %w", len(rows), err)
	}
	return nil
}

// StoredEvent is an event read back: its Kafka position, its time column
// (Unix ms), its arrival (the Kafka record timestamp, Unix ms), its
// CloudEvents source and id, and data.
type StoredEvent struct {
	Partition       int32
	Offset          int64
	TimeMs          int64
	ArrivalMs       int64
	Source, EventID string
	Data            string
}

// Event is the view's event of a stored event, as the online path built it
// when it consumed the record: its time read by the view's source, capped at
// its arrival, and its identity.
func (se StoredEvent) Event(p *tiles.Plan) (tiles.Event, error) {
	e, err := tiles.NewEvent(p.View.Source, []byte(se.Data), se.TimeMs, tiles.Seq{Partition: se.Partition, Offset: se.Offset})
	if err != nil {
		return tiles.Event{}, err
	}
	e.Arrive(se.ArrivalMs)
	e.ID = tiles.EventID(se.Source, se.EventID)
	return e, nil
}

// eventColumns are the columns scanEvent reads. The table is read FINAL:
// rows that a merge would collapse (the same event stored twice) come once,
// before and after the merge alike.
const eventColumns = "entity_key, kafka_partition, kafka_offset, toUInt64(event_time) * 1000 + event_time_ms, toUInt64(ingest_time) * 1000 + ingest_time_ms, source, event_id, data"

func scanEvent(rows driver.Rows) (string, StoredEvent, error) {
	var key string
	var e StoredEvent
	var ms, arrival uint64
	if err := rows.Scan(&key, &e.Partition, &e.Offset, &ms, &arrival, &e.Source, &e.EventID, &e.Data); err != nil {
		return "", StoredEvent{}, fmt.Errorf("scan event: %w", err)
	}
	e.TimeMs, e.ArrivalMs = int64(ms), int64(arrival)
	return key, e, nil
}

// entityChunk bounds the entity keys of one query.
const entityChunk = 2000

// Events returns the stored events of a stream for entities, each entity's
// in Kafka order (partition, offset), a record stored twice (a replay) once.
// The answer does not depend on whether ClickHouse merged the table's parts
// (FINAL).
func (s *Store) Events(ctx context.Context, stream string, entities []string) (map[string][]StoredEvent, error) {
	out := map[string][]StoredEvent{}
	for from := 0; from < len(entities); from += entityChunk {
		chunk := entities[from:min(from+entityChunk, len(entities))]
		set := make([]any, len(chunk))
		for i, k := range chunk {
			set[i] = k
		}
		// IN with a set (not has() of an array) lets ClickHouse use the
		// sorting key (stream, entity_key, ...).
		rows, err := s.conn.Query(ctx, "SELECT "+eventColumns+" FROM "+s.database+".events FINAL WHERE stream = ? AND entity_key IN ?", stream, clickhouse.GroupSet{Value: set})
		if err != nil {
			return nil, fmt.Errorf("query events of stream %s: %w", stream, err)
		}
		for rows.Next() {
			key, e, err := scanEvent(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[key] = append(out[key], e)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read events of stream %s: %w", stream, err)
		}
	}
	for k, evs := range out {
		slices.SortFunc(evs, func(a, b StoredEvent) int {
			if a.Partition != b.Partition {
				return int(a.Partition) - int(b.Partition)
			}
			return cmpInt(a.Offset, b.Offset)
		})
		out[k] = slices.CompactFunc(evs, func(a, b StoredEvent) bool { return a.Partition == b.Partition && a.Offset == b.Offset })
	}
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Label is a label read back.
type Label struct {
	EntityKey string
	TimeMs    int64
	Value     float64
}

// Labels returns the labels of a label stream with event times in
// [start, end), each event once, ordered by entity and time.
func (s *Store) Labels(ctx context.Context, stream string, start, end time.Time) ([]Label, error) {
	rows, err := s.conn.Query(ctx, "SELECT entity_key, toUInt64(event_time) * 1000 + event_time_ms AS ms, any(value) FROM "+s.database+".labels WHERE stream = ? AND event_time >= ? AND event_time <= ? GROUP BY stream, entity_key, event_time, event_time_ms, source, event_id ORDER BY entity_key, ms",
		stream, start.UTC().Truncate(time.Second), end.UTC())
	if err != nil {
		return nil, fmt.Errorf("query labels of %s: %w", stream, err)
	}
	defer rows.Close()
	var out []Label
	lo, hi := start.UnixMilli(), end.UnixMilli()
	for rows.Next() {
		var l Label
		var ms uint64
		if err := rows.Scan(&l.EntityKey, &ms, &l.Value); err != nil {
			return nil, fmt.Errorf("scan label: %w", err)
		}
		l.TimeMs = int64(ms)
		if l.TimeMs >= lo && l.TimeMs < hi {
			out = append(out, l)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read labels of %s: %w", stream, err)
	}
	return out, nil
}

// ValidIdentifier reports whether s can be spliced as a database name.
func ValidIdentifier(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
}

// ScanPartition calls fn for the stored events of one Kafka partition of a
// stream, by entity and then in offset order (a record stored twice comes
// twice, adjacent, until ClickHouse merges the copies).
func (s *Store) ScanPartition(ctx context.Context, stream string, partition int32, fn func(entity string, e StoredEvent) error) error {
	rows, err := s.conn.Query(ctx, "SELECT "+eventColumns+" FROM "+s.database+".events FINAL WHERE stream = ? AND kafka_partition = ? ORDER BY entity_key, kafka_offset", stream, partition)
	if err != nil {
		return fmt.Errorf("query events of stream %s partition %d: %w", stream, partition, err)
	}
	defer rows.Close()
	for rows.Next() {
		key, e, err := scanEvent(rows)
		if err != nil {
			return err
		}
		if err := fn(key, e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events of stream %s partition %d: %w", stream, partition, err)
	}
	return nil
}

// HistoryRow is a row of the feature_history table: the value of one
// feature of one entity at AsOf, as the online store read it.
type HistoryRow struct {
	View, Version, EntityKey, Feature string
	AsOf                              time.Time
	// Value is nil (no value), an int64, a float64, a bool or a string.
	Value any
	// EventTime is the event time of the newest event Value includes (zero
	// when Value is nil).
	EventTime time.Time
	Partition int32
	Offset    int64
}

// InsertHistory appends rows to the feature_history table in one batch.
func (s *Store) InsertHistory(ctx context.Context, rows []HistoryRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.database+".feature_history (view, version, entity_key, feature, as_of, as_of_ms, value, value_string, event_time, event_time_ms, kafka_partition, kafka_offset)")
	if err != nil {
		return fmt.Errorf("prepare feature history insert: %w", err)
	}
	for _, r := range rows {
		at, atms := secMs(r.AsOf)
		var num *float64
		var str *string
		switch v := r.Value.(type) {
		case int64:
			f := float64(v)
			num = &f
		case float64:
			num = &v
		case bool:
			f := 0.0
			if v {
				f = 1
			}
			num = &f
		case string:
			str = &v
		}
		var et *time.Time
		var etms uint16
		if r.Value != nil && !r.EventTime.IsZero() {
			t, ms := secMs(r.EventTime)
			et, etms = &t, ms
		}
		if err := b.Append(r.View, r.Version, r.EntityKey, r.Feature, at, atms, num, str, et, etms, r.Partition, r.Offset); err != nil {
			_ = b.Abort()
			return fmt.Errorf("append feature history row: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d feature history rows: %w", len(rows), err)
	}
	return nil
}
