package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/tiles"
)

type historyKey struct {
	entity, feature string
	asOf            int64 // Unix ms
}

type historyVal struct {
	num     *float64
	str     *string
	eventMs int64 // 0: NULL
	version string
}

func (v historyVal) String() string {
	s := "num=nil"
	if v.num != nil {
		s = fmt.Sprintf("num=%v", *v.num)
	}
	if v.str != nil {
		s += fmt.Sprintf(" str=%q", *v.str)
	}
	return s + fmt.Sprintf(" event_ms=%d", v.eventMs)
}

// readHistory returns the feature_history rows of the harness's view, FINAL.
func (h *harness) readHistory(t *testing.T) map[historyKey]historyVal {
	t.Helper()
	rows, err := h.ch.Query(context.Background(), "SELECT entity_key, feature, toUInt64(as_of) * 1000 + as_of_ms, value, value_string, if(isNull(event_time), toUInt64(0), toUInt64(assumeNotNull(event_time)) * 1000 + event_time_ms), version FROM "+h.db+".feature_history FINAL WHERE view = ?", h.view.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[historyKey]historyVal{}
	for rows.Next() {
		var k historyKey
		var v historyVal
		var asOf, ev uint64
		if err := rows.Scan(&k.entity, &k.feature, &asOf, &v.num, &v.str, &ev, &v.version); err != nil {
			t.Fatal(err)
		}
		k.asOf, v.eventMs = int64(asOf), int64(ev)
		if _, dup := out[k]; dup {
			t.Errorf("row %+v twice with FINAL", k)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// matches reports whether a history row holds the online value v.
func matches(row historyVal, v tiles.Value) bool {
	switch x := v.V.(type) {
	case nil:
		return row.num == nil && row.str == nil && row.eventMs == 0
	case string:
		return row.num == nil && row.str != nil && *row.str == x && row.eventMs == v.Time
	case int64:
		return row.str == nil && row.num != nil && *row.num == float64(x) && row.eventMs == v.Time
	case float64:
		return row.str == nil && row.num != nil && *row.num == x && row.eventMs == v.Time
	case bool:
		return row.str == nil && row.num != nil && (*row.num == 1) == x && row.eventMs == v.Time
	}
	return false
}

// TestFeatureHistory: after each step of clicks is materialized, the
// feature_history rows of each user at its newest event time equal the online
// read (tiles.Store, the API's code) at that instant; a replay of every record
// leaves the rows (FINAL) unchanged.
func TestFeatureHistory(t *testing.T) {
	h := newHarness(t)
	p := h.start()
	h.apply()
	waitView(t, p)
	rdb := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	store := tiles.NewStore(rdb, h.prefix)
	plan := tiles.Compile(h.view)
	base := time.Now().Add(-20 * time.Minute).Truncate(time.Millisecond)
	newest := map[string]time.Time{}
	n := 0
	for step := range 3 {
		var clicks []click
		for i, u := range h.users {
			for j := range 3 {
				n++
				at := base.Add(time.Duration(step)*5*time.Minute + time.Duration(i*3+j)*time.Second + time.Duration(n)*time.Millisecond)
				clicks = append(clicks, click{User: u, At: at, Price: float64(n%97) + 0.25, Item: fmt.Sprintf("item-%d", n%7), Page: []string{"home", "cart", "item"}[n%3]})
				newest[u] = at
			}
		}
		h.produce(clicks)
		h.caughtUp(30 * time.Second)
		hist := h.readHistory(t)
		for _, u := range h.users {
			asOf := newest[u].UnixMilli()
			online, err := store.Read(context.Background(), plan, []string{u}, asOf)
			if err != nil {
				t.Fatal(err)
			}
			for j, f := range h.view.Features {
				row, ok := hist[historyKey{u, f.Name, asOf}]
				if !ok {
					t.Fatalf("step %d: no history row for %s %s at %d (%d rows)", step, u, f.Name, asOf, len(hist))
				}
				if !matches(row, online[0][j]) || row.version != h.view.Version {
					t.Errorf("step %d %s %s at %d: history %v (version %s), online %+v", step, u, f.Name, asOf, row, row.version, online[0][j])
				}
			}
		}
	}
	before := h.readHistory(t)
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	offsets := kadm.Offsets{}
	for part := range int32(3) {
		offsets.Add(kadm.Offset{Topic: h.prefix + event.EventsTopic("clicks"), Partition: part, At: 0, LeaderEpoch: -1})
	}
	ctx := context.Background()
	if _, err := h.adm.CommitOffsets(ctx, h.group, offsets); err != nil {
		t.Fatal(err)
	}
	h.start()
	h.caughtUp(60 * time.Second)
	after := h.readHistory(t)
	if len(after) != len(before) {
		t.Errorf("replay: %d rows (FINAL), %d before", len(after), len(before))
	}
	for k, v := range before {
		if a, ok := after[k]; !ok || a.String() != v.String() {
			t.Errorf("replay changed %+v: %v, before %v", k, a, v)
		}
	}
}
