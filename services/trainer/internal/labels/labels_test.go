package labels_test

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/chx/chxtest"
	"github.com/tributary-ml/tributary/services/trainer/internal/labels"
)

// TestCountOnClickHouse counts labels in a private database on the real
// ClickHouse (TRIBUTARY_CLICKHOUSE_ADDR): by stream, by ingest time to the
// millisecond, a replayed label once.
func TestCountOnClickHouse(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ClickHouse")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, db := chxtest.Migrated(t, "trainer_test_")
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".labels (stream, event_id, source, entity_key, event_time, event_time_ms, value, prediction_id, ingest_time, ingest_time_ms, kafka_partition, kafka_offset, data)")
	if err != nil {
		t.Fatal(err)
	}
	add := func(stream, id string, ingest time.Time) {
		if err := batch.Append(stream, id, "/test", "e-"+id, base, uint16(0), 1.0, "", ingest.Truncate(time.Second), uint16(ingest.Nanosecond()/1e6), int32(0), int64(0), "{}"); err != nil {
			t.Fatal(err)
		}
	}
	for i, ms := range []int{0, 400, 500, 999, 1500} { // ingest times base+ms
		add("fraud", "l"+string(rune('0'+i)), base.Add(time.Duration(ms)*time.Millisecond))
	}
	add("fraud", "l4", base.Add(1500*time.Millisecond)) // a replay of l4
	add("churn", "c0", base.Add(time.Second))
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	c := labels.New(conn, db)
	for _, tc := range []struct {
		stream string
		since  time.Time
		want   int64
	}{
		{"fraud", base, 5},
		{"fraud", base.Add(500 * time.Millisecond), 3},
		{"fraud", base.Add(501 * time.Millisecond), 2},
		{"fraud", base.Add(2 * time.Second), 0},
		{"churn", base, 1},
		{"nope", base, 0},
	} {
		got, err := c.Count(ctx, tc.stream, tc.since)
		if err != nil || got != tc.want {
			t.Errorf("count %s since +%v: %d %v, want %d", tc.stream, tc.since.Sub(base), got, err, tc.want)
		}
	}
}
