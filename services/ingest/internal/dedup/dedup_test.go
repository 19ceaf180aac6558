package dedup

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	w := New(time.Minute, 3)
	w.now = func() time.Time { return now }

	c, dup, err := w.Claim(ctx, "s", "1")
	if err != nil || dup || c.w == nil {
		t.Fatalf("first claim: %v %v %v", c, dup, err)
	}
	// A second claim waits for the first; a failed write lets it through.
	got := make(chan bool)
	go func() {
		c2, dup, _ := w.Claim(ctx, "s", "1")
		got <- dup
		c2.Done(true)
	}()
	c.Done(false)
	if <-got {
		t.Fatal("claim after a failed write reported a duplicate")
	}
	if _, dup, _ := w.Claim(ctx, "s", "1"); !dup {
		t.Fatal("written pair not reported as duplicate")
	}
	if _, dup, _ := w.Claim(ctx, "other", "1"); dup {
		t.Fatal("same id from another source reported as duplicate")
	}
	now = now.Add(time.Minute + time.Second)
	c, dup, _ = w.Claim(ctx, "s", "1")
	if dup {
		t.Fatal("pair still remembered after the window")
	}
	c.Done(true)
	for _, id := range []string{"a", "b", "c"} {
		c, _, _ := w.Claim(ctx, "s", id)
		c.Done(true)
	}
	if w.Len() != 3 {
		t.Fatalf("len %d, want the bound 3", w.Len())
	}
	if _, dup, _ := w.Claim(ctx, "s", "1"); dup {
		t.Fatal("the oldest pair was not evicted at the bound")
	}
}

func TestWaitHonoursContext(t *testing.T) {
	w := New(time.Minute, 10)
	c, _, _ := w.Claim(context.Background(), "s", "1")
	defer c.Done(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := w.Claim(ctx, "s", "1"); err == nil {
		t.Fatal("claim of a pending pair did not end with its context")
	}
}

func TestDisabled(t *testing.T) {
	w := New(0, 10)
	for range 2 {
		c, dup, err := w.Claim(context.Background(), "s", "1")
		if dup || err != nil {
			t.Fatal("disabled window deduplicated")
		}
		c.Done(true)
	}
}

// TestManyPairs writes more pairs than the bound, across the growth and
// wrap-around of the queue, with expiries in between: exactly the newest
// pairs within the window are remembered, and pairs that differ only in
// where source ends and id begins stay apart.
func TestManyPairs(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	w := New(time.Minute, 1000)
	w.now = func() time.Time { return now }
	write := func(source, id string) {
		t.Helper()
		c, dup, err := w.Claim(ctx, source, id)
		if err != nil || dup {
			t.Fatalf("claim %s %s: dup %v, %v", source, id, dup, err)
		}
		c.Done(true)
	}
	for i := range 2500 {
		write("s", strconv.Itoa(i))
		if i%500 == 499 {
			now = now.Add(10 * time.Second)
		}
	}
	if w.Len() != 1000 {
		t.Fatalf("len %d, want 1000", w.Len())
	}
	for i := 1500; i < 2500; i++ {
		if _, dup, _ := w.Claim(ctx, "s", strconv.Itoa(i)); !dup {
			t.Fatalf("pair %d of the newest 1000 not remembered", i)
		}
	}
	for _, i := range []int{0, 1000, 1499} { // evicted at the bound
		c, dup, _ := w.Claim(ctx, "s", strconv.Itoa(i))
		if dup {
			t.Fatalf("pair %d remembered beyond the bound", i)
		}
		c.Done(false)
	}
	write("ab", "c")
	if _, dup, _ := w.Claim(ctx, "a", "bc"); dup {
		t.Fatal(`("a", "bc") taken for ("ab", "c")`)
	}
	// Past the window of the newest writes, everything is forgotten.
	now = now.Add(2 * time.Minute)
	if _, dup, _ := w.Claim(ctx, "s", "2499"); dup {
		t.Fatal("pair remembered after its window")
	}
	if w.Len() != 0 {
		t.Fatalf("len %d after the window, want 0", w.Len())
	}
}

// TestWaitersShareTheEnd: every claim waiting on a pair in flight learns
// of its end, whichever made the channel they wait on.
func TestWaitersShareTheEnd(t *testing.T) {
	ctx := context.Background()
	w := New(time.Minute, 10)
	c, _, _ := w.Claim(ctx, "s", "1")
	got := make(chan bool, 3)
	for range 3 {
		go func() {
			_, dup, err := w.Claim(ctx, "s", "1")
			got <- dup && err == nil
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for { // until a waiter made the channel
		w.mu.Lock()
		waiting := w.waiters[w.digest("s", "1")] != nil
		w.mu.Unlock()
		if waiting || time.Now().After(deadline) {
			break
		}
		runtime.Gosched()
	}
	c.Done(true)
	for range 3 {
		if !<-got {
			t.Fatal("a waiter did not see the pair written")
		}
	}
}

// TestTableAgainstMap drives the open-addressed table with inserts and
// deletes of digests whose homes collide much (256 distinct homes for
// up to about 1 500 digests, runs that wrap around the end, growth
// in between) and checks it against a map after every step.
func TestTableAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tb table
	model := map[digest]uint64{}
	var keys []digest
	const steps = 30000
	for step := range steps {
		grow := 50
		if len(keys) > 1500 {
			grow = 40
		}
		if len(keys) == 0 || rng.IntN(100) < grow {
			// A digest whose home is one of 256 slots, the table's last
			// and first ones, so that runs cross the end.
			d := digest{uint64(rng.IntN(256)) - 128 + uint64(rng.Uint32())<<32, rng.Uint64() &^ stateMask}
			if _, ok := model[d]; ok {
				continue
			}
			i, found := tb.find(d)
			if found {
				t.Fatalf("step %d: new digest found", step)
			}
			state := uint64(1 + rng.IntN(3))
			tb.insert(i, d, state)
			model[d] = state
			keys = append(keys, d)
		} else {
			k := rng.IntN(len(keys))
			d := keys[k]
			keys[k] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
			i, found := tb.find(d)
			if !found {
				t.Fatalf("step %d: digest lost before its delete", step)
			}
			tb.delete(i)
			delete(model, d)
		}
		if step%97 == 0 || step > steps-100 {
			if tb.n != len(model) {
				t.Fatalf("step %d: %d entries, want %d", step, tb.n, len(model))
			}
			for d, state := range model {
				i, found := tb.find(d)
				if !found || tb.state(i) != state {
					t.Fatalf("step %d: digest %x: found %v state %d, want %d", step, d, found, tb.state(i), state)
				}
			}
		}
	}
}

// TestWindowAgainstModel runs random claims, ends and clock steps on a
// small window and checks every answer against a model of its
// semantics: a pair is a duplicate while written within ttl and among the
// max newest written; a failed write forgets it.
func TestWindowAgainstModel(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	now := time.Unix(1000, 0)
	const ttl, bound = time.Minute, 50
	w := New(ttl, bound)
	w.now = func() time.Time { return now }
	type written struct {
		id string
		at time.Time
	}
	var order []written // oldest first
	remembered := func(id string) bool {
		newest := order[max(0, len(order)-bound):]
		for _, p := range newest {
			if p.id == id && now.Sub(p.at) < ttl {
				return true
			}
		}
		return false
	}
	pending := map[string]Claim{}
	for step := range 20000 {
		id := strconv.Itoa(rng.IntN(120))
		switch op := rng.IntN(10); {
		case op == 0:
			now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
		case op < 4 && len(pending) > 0:
			for pid, c := range pending {
				ok := rng.IntN(4) > 0
				c.Done(ok)
				if ok {
					order = append(order, written{pid, now})
				}
				delete(pending, pid)
				break
			}
		default:
			if _, inFlight := pending[id]; inFlight {
				continue // a second claim would wait
			}
			c, dup, err := w.Claim(ctx, "s", id)
			if err != nil {
				t.Fatal(err)
			}
			if want := remembered(id); dup != want {
				t.Fatalf("step %d: claim of %s: duplicate %v, want %v", step, id, dup, want)
			}
			if !dup {
				pending[id] = c
			}
		}
	}
}

// TestFullWindowForgetsAGroup: at a bound of 32 768 pairs a full window
// forgets its 32 oldest at once, oldest first, and nothing newer; below
// 2 048 it forgets exactly one (TestWindowAgainstModel).
func TestFullWindowForgetsAGroup(t *testing.T) {
	ctx := context.Background()
	const bound = 32768
	w := New(time.Hour, bound)
	id := func(i int) string { return "e-" + strconv.Itoa(i) }
	for i := range bound + 1 {
		c, dup, err := w.Claim(ctx, "s", id(i))
		if dup || err != nil {
			t.Fatalf("claim %d: dup %v, err %v", i, dup, err)
		}
		c.Done(true)
	}
	if got, want := w.Len(), bound-31; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	for i, want := range map[int]bool{0: false, 31: false, 32: true, bound: true} {
		c, dup, err := w.Claim(ctx, "s", id(i))
		if err != nil {
			t.Fatal(err)
		}
		if dup != want {
			t.Errorf("pair %d: duplicate %v, want %v", i, dup, want)
		}
		c.Done(false) // forget the new claims again
	}
}

// TestWarm: Warm changes no answer, on a disabled window, an empty one and
// a full one.
func TestWarm(t *testing.T) {
	ctx := context.Background()
	New(0, 10).Warm([]Pair{{"s", "a"}})
	w := New(time.Hour, 4)
	w.Warm([]Pair{{"s", "a"}})
	w.Warm(nil)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		c, _, _ := w.Claim(ctx, "s", id)
		c.Done(true)
	}
	w.Warm([]Pair{{"s", "a"}, {"s", "e"}, {"s", "z"}})
	for id, want := range map[string]bool{"a": false, "b": true, "e": true, "z": false} {
		c, dup, err := w.Claim(ctx, "s", id)
		if err != nil || dup != want {
			t.Errorf("claim %s after Warm: dup %v, err %v; want %v", id, dup, err, want)
		}
		c.Done(false)
	}
}

// TestClaimAt: the caller's time decides expiry as the window's clock
// would.
func TestClaimAt(t *testing.T) {
	ctx := context.Background()
	start := time.Unix(1000, 0)
	w := New(time.Minute, 100)
	w.now = func() time.Time { return start }
	c, _, _ := w.ClaimAt(ctx, "s", "a", start)
	c.DoneAt(true, start)
	for _, tc := range []struct {
		at  time.Duration
		dup bool
	}{{59 * time.Second, true}, {61 * time.Second, false}} {
		c, dup, err := w.ClaimAt(ctx, "s", "a", start.Add(tc.at))
		if err != nil || dup != tc.dup {
			t.Errorf("ClaimAt %v after the write: dup %v, err %v; want %v", tc.at, dup, err, tc.dup)
		}
		if !dup {
			c.Done(false)
		}
	}
}
