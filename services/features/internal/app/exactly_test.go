package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/reason"
)

// clickRecord is the Kafka record of one click under a given CloudEvents id
// (the same id re-sent is a copy of the same event).
func (h *harness) clickRecord(id string, c click) *kgo.Record {
	h.t.Helper()
	return h.record(h.prefix+event.EventsTopic("clicks"), id, c.User, "com.example.shop.click.v1", map[string]any{
		"user_id": c.User, "item_id": c.Item, "clicked_at": c.At.UTC().Format(time.RFC3339Nano), "price": c.Price, "page": c.Page,
	})
}

// TestOnlineEqualsOfflineHardInputs extends the headline test to the inputs
// the service accepts that used to make the two paths disagree: events
// stamped up to 5 minutes after their arrival, events re-sent under the same
// (source, id) after ingest's dedup window, and late events that arrived
// after a newer one. The online reads and the training set at the same
// instants are equal to the bit, a copy counts once in both, a late event
// reaches neither, and the same request gives the same training set (same
// hash) before and after ClickHouse merges the table.
func TestOnlineEqualsOfflineHardInputs(t *testing.T) {
	h := newHarness(t)
	r := rand.New(rand.NewPCG(7, 8))
	plain := h.users
	h.users = append(slices.Clone(plain), "user-late", "user-copy", "user-future")
	randomClicks := func(n int, from, to time.Time) []click {
		all := h.users
		h.users = plain // random clicks for the plain users only
		defer func() { h.users = all }()
		return h.randomClicks(r, n, from, to)
	}
	p := h.start()
	h.apply()
	waitView(t, p)
	ctx := context.Background()
	now := time.Now()
	base := randomClicks(1500, now.Add(-40*time.Minute), now)
	var recs []*kgo.Record
	for i, c := range base {
		recs = append(recs, h.clickRecord(fmt.Sprintf("b-%d", i), c))
	}
	// Stamped ahead of their arrival, by up to 4 minutes (ingest accepts
	// 5): the newest event of user-future, and some of the others'.
	for i := range 60 {
		u := plain[r.IntN(len(plain))]
		if i%3 == 0 {
			u = "user-future"
		}
		c := click{User: u, At: now.Add(time.Duration(1 + r.Int64N(int64(4*time.Minute)))).Truncate(time.Millisecond), Price: float64(r.IntN(20000)) / 100, Item: fmt.Sprintf("item-%d", r.IntN(30)), Page: "future"}
		recs = append(recs, h.clickRecord(fmt.Sprintf("f-%d", i), c))
	}
	// user-copy: 10 events, each re-sent once later under the same id.
	var copies []*kgo.Record
	for i := range 10 {
		c := click{User: "user-copy", At: now.Add(-time.Duration(10-i) * time.Minute), Price: float64(i) + 0.25, Item: fmt.Sprintf("item-%d", i), Page: "item"}
		recs = append(recs, h.clickRecord(fmt.Sprintf("copy-%d", i), c))
		copies = append(copies, h.clickRecord(fmt.Sprintf("copy-%d", i), c))
	}
	if err := h.kafka.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	h.caughtUp(60 * time.Second)
	if err := h.kafka.ProduceSync(ctx, copies...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	h.caughtUp(60 * time.Second)
	s1 := h.snapshot(p)
	if got := s1.vals["user-copy"]["uc:clicks_1h"].Value; fmt.Sprint(got) != "10" {
		t.Errorf("user-copy clicks_1h %v after 10 events sent twice, want 10", got)
	}
	if v := s1.vals["user-late"]["uc:clicks_1d"].Value; v != nil {
		t.Fatalf("user-late has clicks before its events: %v", v)
	}
	// After the read at s1: user-late gets a new event, then one older than
	// s1 by more than the 10m lateness: refused online, so it must not reach
	// the training row at s1 either. The others get events after s1 (the
	// sleep lets time pass after the read: it waits for no condition).
	time.Sleep(20 * time.Millisecond)
	late := []*kgo.Record{
		h.clickRecord("late-new", click{User: "user-late", At: time.Now(), Price: 1, Item: "item-1", Page: "home"}),
		h.clickRecord("late-old", click{User: "user-late", At: s1.asOf.Add(-11 * time.Minute), Price: 1000, Item: "item-2", Page: "cart"}),
	}
	for i, c := range randomClicks(300, s1.asOf.Add(time.Millisecond), time.Now()) {
		late = append(late, h.clickRecord(fmt.Sprintf("a-%d", i), c))
	}
	if err := h.kafka.ProduceSync(ctx, late...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	h.caughtUp(60 * time.Second)
	s2 := h.snapshot(p)
	snaps := []snapshot{s1, s2}
	for _, s := range snaps {
		for ref, v := range s.vals["user-future"] {
			if v.EventTime != nil && v.EventTime.After(s.asOf) {
				t.Errorf("user-future %s at %s includes an event counted from %s", ref, s.asOf.Format(time.RFC3339Nano), v.EventTime.Format(time.RFC3339Nano))
			}
		}
	}
	compare := func(rows map[string]map[string]any) {
		t.Helper()
		checked, nonNull := 0, 0
		for _, s := range snaps {
			for _, u := range h.users {
				row, ok := rows[fmt.Sprintf("%s|%d", u, s.asOf.UnixMilli())]
				if !ok {
					t.Fatalf("no training row for %s at %s", u, s.asOf)
				}
				for _, ref := range h.refs {
					on := s.vals[u][ref]
					if !equal(on, row[ref]) {
						t.Errorf("%s %s at %s: online %v, offline %v (%T)", u, ref, s.asOf.Format(time.RFC3339Nano), on.Value, row[ref], row[ref])
					}
					checked++
					if on.Value != nil {
						nonNull++
					}
				}
			}
		}
		t.Logf("%d values compared (%d non-null)", checked, nonNull)
		if nonNull < checked/2 {
			t.Errorf("only %d of %d values non-null: the test proves little", nonNull, checked)
		}
	}
	ready, rows := h.dataset("hard_labels", snaps)
	compare(rows)
	if n := countDLQ(t, h, reason.LateEvent); n == 0 {
		t.Error("the late event of user-late was not dead-lettered")
	}
	// ClickHouse merges the parts (and any copy): the same request builds
	// the same training set.
	for _, table := range []string{"events", "labels"} {
		if err := h.ch.Exec(ctx, "OPTIMIZE TABLE "+h.db+"."+table+" FINAL"); err != nil {
			t.Fatalf("optimize %s: %v", table, err)
		}
	}
	again, rows2 := h.dataset("hard_labels", snaps)
	if again.SHA256 != ready.SHA256 || again.RowCount != ready.RowCount {
		t.Errorf("same request after the merge: %s (%d rows), before %s (%d rows)", again.SHA256, again.RowCount, ready.SHA256, ready.RowCount)
	}
	compare(rows2)
	var stored uint64
	if err := h.ch.QueryRow(ctx, "SELECT count() FROM "+h.db+".events WHERE entity_key = 'user-copy'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 10 {
		t.Errorf("user-copy: %d events stored in ClickHouse, want 10 (each once)", stored)
	}
	b, _ := json.Marshal(s2.vals["user-late"])
	t.Logf("user-late at s2: %s", b)
}
