package dedup

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Window is a set of written (source, id) pairs, each forgotten TTL after
// it was written. Safe for concurrent use. A full window forgets
// its oldest pairs a group at a time (32 for the default bound): it holds
// between maxEntries-31 and maxEntries written pairs then.
//
// A pair is kept as a 126-bit fingerprint (two 64-bit words, each the sum
// of maphash sums of source and id with random seeds of this process, less
// two bits that hold the pair's state)
// in one open-addressed table of fixed-size slots, pending and written
// pairs alike, and the written ones also in a queue, oldest first, that
// expires them: no string keys, no allocation per pair, nothing the
// garbage collector scans. A claim looks the pair up once and a Done once
// more (the maps this replaced took six map operations an event, each a
// likely cache miss on half a million entries).
//
// Two pairs share a fingerprint with a probability of 2⁻¹²⁶ ≈ 1.2·10⁻³⁸:
// a new event is taken for a duplicate of one of the n pairs the window
// holds (and is dropped as one) with a probability of at most n·2⁻¹²⁶,
// below 6·10⁻³³ at the default bound of 500 000 pairs — for 10¹⁵ events
// (a million a second for 30 years), below 10⁻¹⁷ in all.
type Window struct {
	ttl   time.Duration
	max   int
	now   func() time.Time
	seeds [4]maphash.Seed

	mu    sync.Mutex
	table table // pending and written pairs
	// waiters holds, for a pending pair that a second claim waits on, the
	// channel that closes when its write ends; only then is one made.
	waiters map[digest]chan struct{}
	queue   ring // the written pairs, oldest first
	// sink takes the words Warm and forgetOldest load only for their cache
	// lines, so that the compiler keeps the loads.
	sink uint64
}

// Pair is a (source, id) pair, for Warm.
type Pair struct{ Source, ID string }

// digest is a pair's fingerprint; in a slot of the table, the low two
// bits of its second word are the slot's state.
type digest [2]uint64

// The states of a slot.
const (
	stateEmpty   = 0
	statePending = 1 // a write in flight
	stateWaited  = 2 // a write in flight that another claim waits on
	stateWritten = 3
	stateMask    = 3
)

// writtenPair is one remembered pair, in the order written.
type writtenPair struct {
	d       digest
	expires int64 // unix nanoseconds
}

// New returns a window of ttl holding at most maxEntries written pairs.
// A ttl of 0 turns deduplication off: Claim always returns a claim.
func New(ttl time.Duration, maxEntries int) *Window {
	return &Window{
		ttl: ttl, max: maxEntries, now: time.Now, seeds: [4]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed(), maphash.MakeSeed(), maphash.MakeSeed()},
		waiters: map[digest]chan struct{}{},
	}
}

// digest is (H0(source)+H1(id), H2(source)+H3(id)) for four maphash
// functions of independent random seeds: two different pairs differ in
// source or id, and then each word matches by chance only (2⁻⁶⁴ each).
func (w *Window) digest(source, id string) digest {
	d := digest{
		maphash.String(w.seeds[0], source) + maphash.String(w.seeds[1], id),
		maphash.String(w.seeds[2], source) + maphash.String(w.seeds[3], id),
	}
	d[1] &^= stateMask
	return d
}

// Warm loads the slots of the table where claims of pairs will look, all
// under one lock and independent of each other, so that their cache misses
// (the table of a full window is 16 MB, one miss for each claim) overlap
// instead of following one another: a batch's claims then mostly find
// their slots in the cache. It changes nothing; a claim without it only
// takes longer.
func (w *Window) Warm(pairs []Pair) {
	if w.ttl <= 0 || len(pairs) == 0 {
		return
	}
	firsts := make([]uint64, len(pairs)) // the digests' first words, which place them
	for i, p := range pairs {
		firsts[i] = w.digest(p.Source, p.ID)[0]
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.table.slots) == 0 {
		return
	}
	mask := uint64(len(w.table.slots) - 1)
	var sum uint64
	for _, f := range firsts {
		sum += w.table.slots[f&mask][0]
	}
	w.sink += sum
}

// Claim is the right to write one event; end it with Done. The zero
// Claim (of a disabled window, or none) ends as a no-op.
type Claim struct {
	w *Window
	d digest
}

// Claim returns (Claim{}, true) when (source, id) was written within the
// window. When another write of the same pair is in flight it waits for
// that one to end (or ctx). Otherwise it returns a claim that the caller
// must end with Done once the write succeeded or failed.
func (w *Window) Claim(ctx context.Context, source, id string) (Claim, bool, error) {
	return w.ClaimAt(ctx, source, id, time.Time{})
}

// ClaimAt is Claim for a caller that has read the clock (the clock of
// time.Now, at most moments ago: a batch's start); the zero now reads it.
func (w *Window) ClaimAt(ctx context.Context, source, id string, now time.Time) (Claim, bool, error) {
	if w.ttl <= 0 {
		return Claim{}, false, nil
	}
	d := w.digest(source, id)
	for first := true; ; first = false {
		if now.IsZero() || !first {
			now = w.now() // after a wait, read it again
		}
		w.mu.Lock()
		w.expire(now.UnixNano())
		i, found := w.table.find(d)
		if !found {
			w.table.insert(i, d, statePending)
			w.mu.Unlock()
			return Claim{w: w, d: d}, false, nil
		}
		var done chan struct{}
		switch w.table.state(i) {
		case stateWritten:
			w.mu.Unlock()
			return Claim{}, true, nil
		case statePending:
			done = make(chan struct{})
			w.waiters[d] = done
			w.table.setState(i, stateWaited)
		default: // stateWaited
			done = w.waiters[d]
		}
		w.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return Claim{}, false, ctx.Err()
		}
	}
}

// Done ends the claim: a written event is remembered for the window, a
// failed one is forgotten so that a retry writes it. Done of the zero
// Claim, or of a claim already ended, does nothing.
func (c Claim) Done(written bool) {
	if c.w == nil {
		return
	}
	c.DoneAt(written, c.w.now())
}

// DoneAt is Done for a caller that has read the clock: now is when the
// write ended, from which the pair is remembered for the window.
func (c Claim) DoneAt(written bool, now time.Time) {
	w := c.w
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	i, found := w.table.find(c.d)
	if !found {
		return
	}
	switch w.table.state(i) {
	case stateWritten:
		return // ended already
	case stateWaited:
		close(w.waiters[c.d])
		delete(w.waiters, c.d)
	}
	if !written {
		w.table.delete(i)
		return
	}
	w.table.setState(i, stateWritten)
	w.queue.push(writtenPair{d: c.d, expires: now.Add(w.ttl).UnixNano()})
	if excess := w.queue.len() - w.max; excess > 0 {
		w.forgetOldest(excess + w.group() - 1)
	}
}

// group is how many of the oldest pairs a full window forgets at once:
// their slots are loaded together first, so that their cache misses
// overlap (one at a time, each Done waited for one). 32 for a bound of at
// least 32 768 pairs, one (the exact FIFO) below 2 048.
func (w *Window) group() int { return max(1, min(32, w.max/1024)) }

// forgetOldest forgets the n oldest written pairs.
func (w *Window) forgetOldest(n int) {
	mask := uint64(len(w.table.slots) - 1)
	var sum uint64
	for i := range n {
		sum += w.table.slots[w.queue.at(i).d[0]&mask][0]
	}
	w.sink += sum
	for range n {
		w.forget(w.queue.pop().d)
	}
}

// Len returns the number of written pairs remembered.
func (w *Window) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queue.len()
}

func (w *Window) expire(now int64) {
	for w.queue.len() > 0 && w.queue.front().expires <= now {
		w.forget(w.queue.pop().d)
	}
}

// forget removes the written pair d from the table.
func (w *Window) forget(d digest) {
	if i, found := w.table.find(d); found && w.table.state(i) == stateWritten {
		w.table.delete(i)
	}
}

// table is a set of fingerprints with a state each: open addressing with
// linear probing, at most half full (it doubles before), deletion by
// shifting the run back (no tombstones). A slot is a digest whose low two
// bits of the second word are its state, stateEmpty for a free slot.
type table struct {
	slots []digest
	n     int // slots in use
}

const minSlots = 1 << 10

// home is the slot where d's probe starts.
func (t *table) home(d digest) int { return int(d[0] & uint64(len(t.slots)-1)) }

// find returns the slot of d, or where to insert it.
func (t *table) find(d digest) (int, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	mask := len(t.slots) - 1
	for i := t.home(d); ; i = (i + 1) & mask {
		s := t.slots[i]
		if s[1]&stateMask == stateEmpty {
			return i, false
		}
		if s[0] == d[0] && s[1]&^stateMask == d[1] {
			return i, true
		}
	}
}

func (t *table) state(i int) uint64 { return t.slots[i][1] & stateMask }

func (t *table) setState(i int, state uint64) {
	t.slots[i][1] = t.slots[i][1]&^stateMask | state
}

// insert puts d, not in the table, at slot i that find returned for it.
func (t *table) insert(i int, d digest, state uint64) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
		i, _ = t.find(d)
	}
	t.slots[i] = digest{d[0], d[1] | state}
	t.n++
}

func (t *table) grow() {
	old := t.slots
	t.slots = make([]digest, max(minSlots, 2*len(old)))
	mask := len(t.slots) - 1
	for _, s := range old {
		if s[1]&stateMask == stateEmpty {
			continue
		}
		i := t.home(s)
		for t.slots[i][1]&stateMask != stateEmpty {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// delete frees slot i, moving back the entries after it in its run that
// would no longer be found past the gap.
func (t *table) delete(i int) {
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.slots[j][1]&stateMask != stateEmpty; j = (j + 1) & mask {
		// The entry at j may fill the gap at i unless its home lies
		// cyclically in (i, j].
		if h := t.home(t.slots[j]); (j-h)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = digest{}
	t.n--
}

// ring is a growable FIFO queue of written pairs.
type ring struct {
	buf  []writtenPair
	head int // index of the oldest
	n    int
}

func (r *ring) len() int { return r.n }

func (r *ring) front() writtenPair { return r.buf[r.head] }

// at is the pair i places after the oldest (i < len).
func (r *ring) at(i int) writtenPair { return r.buf[(r.head+i)%len(r.buf)] }

func (r *ring) push(p writtenPair) {
	if r.n == len(r.buf) {
		grown := make([]writtenPair, max(64, 2*len(r.buf)))
		copied := copy(grown, r.buf[r.head:])
		copy(grown[copied:], r.buf[:r.head])
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = p
	r.n++
}

func (r *ring) pop() writtenPair {
	p := r.buf[r.head]
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return p
}
