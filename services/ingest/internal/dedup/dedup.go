package dedup

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Window is a set of written (source, id) pairs, each forgotten TTL after it
// was written. Safe for concurrent use.
type Window struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[key]*entry
	written *list.List // of key, oldest first
}

type key struct{ source, id string }

type entry struct {
	done    chan struct{} // closed when a pending write ends; nil once written
	expires time.Time
	elem    *list.Element
}

// New returns a window of ttl holding at most maxEntries written pairs.
// A ttl of 0 turns deduplication off: Claim always returns a claim.
func New(ttl time.Duration, maxEntries int) *Window {
	return &Window{ttl: ttl, max: maxEntries, now: time.Now, entries: map[key]*entry{}, written: list.New()}
}

// Claim is the right to write one event; end it with Done.
type Claim struct {
	w *Window
	k key
	e *entry
}

// Claim returns (nil, true) when (source, id) was written within the
// window. When another write of the same pair is in flight it waits for
// that one to end (or ctx). Otherwise it returns a claim that the caller
// must end with Done once the write succeeded or failed.
func (w *Window) Claim(ctx context.Context, source, id string) (*Claim, bool, error) {
	if w.ttl <= 0 {
		return &Claim{}, false, nil
	}
	k := key{source, id}
	for {
		w.mu.Lock()
		w.expire()
		e, ok := w.entries[k]
		if !ok {
			e = &entry{done: make(chan struct{})}
			w.entries[k] = e
			w.mu.Unlock()
			return &Claim{w: w, k: k, e: e}, false, nil
		}
		if e.done == nil {
			w.mu.Unlock()
			return nil, true, nil
		}
		done := e.done
		w.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// Done ends the claim: a written event is remembered for the window, a
// failed one is forgotten so that a retry writes it. Done is idempotent
// for the zero Claim of a disabled window.
func (c *Claim) Done(written bool) {
	if c == nil || c.w == nil {
		return
	}
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	close(c.e.done)
	c.e.done = nil
	if !written {
		delete(w.entries, c.k)
		return
	}
	c.e.expires = w.now().Add(w.ttl)
	c.e.elem = w.written.PushBack(c.k)
	for w.written.Len() > w.max {
		w.evict(w.written.Front())
	}
}

// Len returns the number of written pairs remembered.
func (w *Window) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written.Len()
}

func (w *Window) expire() {
	now := w.now()
	for f := w.written.Front(); f != nil; f = w.written.Front() {
		if w.entries[f.Value.(key)].expires.After(now) {
			return
		}
		w.evict(f)
	}
}

func (w *Window) evict(el *list.Element) {
	w.written.Remove(el)
	delete(w.entries, el.Value.(key))
}
