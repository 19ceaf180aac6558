package tiles_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/tiles"
)

const hour = int64(time.Hour / time.Millisecond)

func idEvent(off, at int64, id string, x float64) tiles.Event {
	return tiles.Event{Time: at, ID: tiles.EventID("src", id), Seq: tiles.Seq{Partition: 2, Offset: off}, Fields: map[string]any{"x": x, "k": id}}
}

// TestCopiesCountOnce: an event re-sent with the same (source, id) under a
// new offset counts once while the first could still count; a copy older
// than that is late anyway. Accept, the offline path's admission, gives the
// online outcomes.
func TestCopiesCountOnce(t *testing.T) {
	p := plan(t) // lateness 2h
	evs := []tiles.Event{
		idEvent(0, T0, "a", 1),
		idEvent(1, T0+1000, "b", 2),
		idEvent(2, T0, "a", 1),         // copy of a: duplicate
		idEvent(3, T0+hour, "c", 3),    //
		idEvent(4, T0, "a", 1),         // copy of a, still within the lateness of c
		idEvent(5, T0+3*hour, "d", 4),  // a is now older than the lateness
		idEvent(6, T0, "a", 1),         // copy of a: late (its entry is void)
		idEvent(7, T0+3*hour, "e", 5),  //
		idEvent(8, T0+1000, "b", 2),    // copy of b: late
		idEvent(9, T0+3*hour, "d", 4),  // copy of d: duplicate
		idEvent(9, T0+3*hour, "zz", 9), // a replay of offset 9: duplicate
		idEvent(10, T0+3*hour, "", 6),  // an event without an id is not checked: ID of "" is still an ID
		{Time: T0 + 3*hour, Seq: tiles.Seq{Partition: 2, Offset: 11}, Fields: map[string]any{"x": 7.0}},
		{Time: T0 + 3*hour, Seq: tiles.Seq{Partition: 2, Offset: 12}, Fields: map[string]any{"x": 7.0}}, // no ID: counts again
	}
	want := []tiles.Outcome{tiles.Applied, tiles.Applied, tiles.Duplicate, tiles.Applied, tiles.Duplicate, tiles.Applied,
		tiles.Late, tiles.Applied, tiles.Late, tiles.Duplicate, tiles.Duplicate, tiles.Applied, tiles.Applied, tiles.Applied}
	s := tiles.NewState(p)
	var applied []tiles.Event
	for i, e := range evs {
		got := s.Apply(p, e, math.MaxInt64)
		if got != want[i] {
			t.Errorf("event %d: %v, want %v", i, got, want[i])
		}
		if got == tiles.Applied {
			applied = append(applied, e)
		}
	}
	accepted := p.Accept(evs)
	if !slices.EqualFunc(accepted, applied, func(a, b tiles.Event) bool { return a.Seq == b.Seq }) {
		t.Errorf("Accept kept %v, Apply applied %v", seqs(accepted), seqs(applied))
	}
	// The state of the accepted events, added without checks, is the
	// online state.
	off := tiles.NewState(p)
	for _, e := range accepted {
		off.Add(p, e)
	}
	if got, w := p.Read(off, T0+3*hour), p.Read(s, T0+3*hour); !slices.Equal(got, w) {
		t.Errorf("offline %v\n online %v", got, w)
	}
	// The void entries are dropped when encoded; the live ones survive.
	back := roundTrip(t, p, s)
	if len(back.Seen) >= len(s.Seen) || len(back.Seen) == 0 {
		t.Errorf("seen %d entries, %d after a round trip", len(s.Seen), len(back.Seen))
	}
	if got := back.Apply(p, idEvent(20, T0+3*hour, "e", 5), math.MaxInt64); got != tiles.Duplicate {
		t.Errorf("copy of e after a round trip: %v", got)
	}
}

func seqs(evs []tiles.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq.Offset
	}
	return out
}

// TestAcceptJudgesLatenessOnAllEvents: an event that arrived after a newer
// one by more than the lateness is refused online; the offline state at an
// instant before the newer event must not hold it either.
func TestAcceptJudgesLatenessOnAllEvents(t *testing.T) {
	p := plan(t) // lateness 2h
	evs := []tiles.Event{idEvent(0, T0, "new", 1), idEvent(1, T0-3*hour, "old", 100)}
	online := tiles.NewState(p)
	for _, e := range evs {
		online.Apply(p, e, math.MaxInt64)
	}
	accepted := p.Accept(evs)
	if len(accepted) != 1 || accepted[0].Seq.Offset != 0 {
		t.Fatalf("accepted %v, want only offset 0", seqs(accepted))
	}
	// At T0-3h+1m the online path never held "old"; neither does the
	// state of the accepted events up to that instant.
	at := T0 - 3*hour + 60_000
	st := tiles.NewState(p)
	for _, e := range accepted {
		if e.Time <= at {
			st.Add(p, e)
		}
	}
	if st.Events != 0 {
		t.Errorf("state at %d holds %d events", at, st.Events)
	}
}

// TestArrive: an event stamped after its arrival counts from its arrival.
func TestArrive(t *testing.T) {
	for _, tc := range []struct{ time, arrival, want, stamped int64 }{
		{T0, T0 + 5, T0, 0},
		{T0, T0, T0, 0},
		{T0 + 300_000, T0, T0, T0 + 300_000},
		{T0, 0, T0, 0},
	} {
		e := tiles.Event{Time: tc.time}
		e.Arrive(tc.arrival)
		if e.Time != tc.want || e.Stamped != tc.stamped {
			t.Errorf("Arrive(%d) of %d: time %d stamped %d, want %d %d", tc.arrival, tc.time, e.Time, e.Stamped, tc.want, tc.stamped)
		}
	}
}

// TestFencedApply: a consumer that read an entity's state, then lost its
// partition to another consumer that applied newer events, must not
// overwrite the newer state when it writes.
func TestFencedApply(t *testing.T) {
	rdb := redisClient(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("test-fence-%d-", time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	p := plan(t)
	r := rand.New(rand.NewPCG(3, 4))
	evs := events(r, 300, 6*hour, hour)
	for i := range evs {
		evs[i].ID = tiles.EventID("src", fmt.Sprint(i))
	}
	stale, owner := tiles.NewStore(rdb, prefix), tiles.NewStore(rdb, prefix)
	if err := owner.Apply(ctx, []*tiles.Update{{Plan: p, Entity: "u", Events: evs[:100]}}, T0); err != nil {
		t.Fatal(err)
	}
	// The stale consumer reads its batch (100..200) ...
	batch, err := stale.Prepare(ctx, []*tiles.Update{{Plan: p, Entity: "u", Events: evs[100:200]}, {Plan: p, Entity: "other", Events: evs[:10]}}, T0)
	if err != nil {
		t.Fatal(err)
	}
	// ... the new owner applies it and more ...
	if err := owner.Apply(ctx, []*tiles.Update{{Plan: p, Entity: "u", Events: evs[100:300]}}, T0); err != nil {
		t.Fatal(err)
	}
	// ... and the stale write is refused.
	if err := batch.Commit(ctx); !errors.Is(err, tiles.ErrFenced) {
		t.Fatalf("stale commit: %v, want ErrFenced", err)
	}
	got, err := owner.Read(ctx, p, []string{"u", "other"}, T0)
	if err != nil {
		t.Fatal(err)
	}
	if want := p.Read(build(p, evs, T0), T0); !slices.Equal(got[0], want) {
		t.Errorf("after the stale write:\n got %v\nwant %v", got[0], want)
	}
	// An entity nobody else wrote is written.
	if want := p.Read(build(p, evs[:10], T0), T0); !slices.Equal(got[1], want) {
		t.Errorf("unfenced entity:\n got %v\nwant %v", got[1], want)
	}
	// A fresh Prepare sees the new state: everything is a duplicate and
	// nothing is left to write.
	up := &tiles.Update{Plan: p, Entity: "u", Events: evs[100:200]}
	if err := stale.Apply(ctx, []*tiles.Update{up}, T0); err != nil {
		t.Fatal(err)
	}
	for i, o := range up.Outcomes {
		if o != tiles.Duplicate {
			t.Fatalf("event %d after the new owner: %v", 100+i, o)
		}
	}
	// A copy of an applied event under a new offset is a duplicate, in
	// Redis as in memory.
	cp := evs[299]
	cp.Seq.Offset = 1000
	up = &tiles.Update{Plan: p, Entity: "u", Events: []tiles.Event{cp}}
	if err := owner.Apply(ctx, []*tiles.Update{up}, T0); err != nil {
		t.Fatal(err)
	}
	if up.Outcomes[0] != tiles.Duplicate {
		t.Errorf("copy through Redis: %v", up.Outcomes[0])
	}
	// The script is reloaded after SCRIPT FLUSH (a Redis restart).
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := owner.Apply(ctx, []*tiles.Update{{Plan: p, Entity: "w", Events: evs[:5]}}, T0); err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
}
