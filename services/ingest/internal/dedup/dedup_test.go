package dedup

import (
	"context"
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
	if err != nil || dup || c == nil {
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
		waiting := w.pending[w.digest("s", "1")] != nil
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
