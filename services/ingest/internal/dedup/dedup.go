package dedup

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"time"
)

// Window is a set of written (source, id) pairs, each forgotten TTL after it
// was written. Safe for concurrent use.
//
// The pairs written are kept as 128-bit digests (two 64-bit maphash sums
// with random seeds of this process) in a map and a queue that hold no
// pointers: the garbage collector does not scan them, where a map of
// strings with a list of its keys cost every collection cycle a walk over
// hundreds of thousands of pointers under load. Two pairs share a digest
// with a probability of about n²/2¹²⁹ for n pairs (below 2⁻⁹⁰ for a million).
type Window struct {
	ttl   time.Duration
	max   int
	now   func() time.Time
	seeds [2]maphash.Seed

	mu sync.Mutex
	// pending are the writes in flight; the channel, made only once a
	// second claim of the pair waits, closes when the write ends.
	pending map[digest]chan struct{}
	written map[digest]struct{}
	queue   ring // the written digests, oldest first
}

type digest [2]uint64

// writtenPair is one remembered pair, in the order written.
type writtenPair struct {
	d       digest
	expires int64 // unix nanoseconds
}

// New returns a window of ttl holding at most maxEntries written pairs.
// A ttl of 0 turns deduplication off: Claim always returns a claim.
func New(ttl time.Duration, maxEntries int) *Window {
	return &Window{
		ttl: ttl, max: maxEntries, now: time.Now, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		pending: map[digest]chan struct{}{}, written: map[digest]struct{}{},
	}
}

func (w *Window) digest(source, id string) digest {
	var d digest
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(source)))
	for i, seed := range w.seeds {
		var h maphash.Hash
		h.SetSeed(seed)
		_, _ = h.Write(n[:])
		_, _ = h.WriteString(source)
		_, _ = h.WriteString(id)
		d[i] = h.Sum64()
	}
	return d
}

// Claim is the right to write one event; end it with Done.
type Claim struct {
	w *Window
	d digest
}

// Claim returns (nil, true) when (source, id) was written within the
// window. When another write of the same pair is in flight it waits for
// that one to end (or ctx). Otherwise it returns a claim that the caller
// must end with Done once the write succeeded or failed.
func (w *Window) Claim(ctx context.Context, source, id string) (*Claim, bool, error) {
	if w.ttl <= 0 {
		return &Claim{}, false, nil
	}
	d := w.digest(source, id)
	for {
		w.mu.Lock()
		w.expire()
		if _, ok := w.written[d]; ok {
			w.mu.Unlock()
			return nil, true, nil
		}
		done, ok := w.pending[d]
		if !ok {
			w.pending[d] = nil // no one waits yet
			w.mu.Unlock()
			return &Claim{w: w, d: d}, false, nil
		}
		if done == nil {
			done = make(chan struct{})
			w.pending[d] = done
		}
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
	if done := w.pending[c.d]; done != nil {
		close(done)
	}
	delete(w.pending, c.d)
	if !written {
		return
	}
	w.written[c.d] = struct{}{}
	w.queue.push(writtenPair{d: c.d, expires: w.now().Add(w.ttl).UnixNano()})
	for w.queue.len() > w.max {
		delete(w.written, w.queue.pop().d)
	}
}

// Len returns the number of written pairs remembered.
func (w *Window) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queue.len()
}

func (w *Window) expire() {
	now := w.now().UnixNano()
	for w.queue.len() > 0 && w.queue.front().expires <= now {
		delete(w.written, w.queue.pop().d)
	}
}

// ring is a growable FIFO queue of written pairs.
type ring struct {
	buf  []writtenPair
	head int // index of the oldest
	n    int
}

func (r *ring) len() int { return r.n }

func (r *ring) front() writtenPair { return r.buf[r.head] }

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
