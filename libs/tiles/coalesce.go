package tiles

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"
)

// StoreOption configures a Store.
type StoreOption func(*Store)

// Coalesce makes the reads of one entity (Store.Read) that a Store's
// callers issue while another is in flight go to Redis together, as one
// pipeline, when that read comes back: no read waits for a batch to fill (a read with none in flight is
// sent at once), and under concurrent load a read costs a fraction of the
// write and read system calls, on both sides of the connection, that a
// command of its own does. The values read are the same.
//
// Over a *redis.Client the batches go over a connection of their own, taken
// from the client's pool once (one batch is in flight at a time): without
// the pool's checkout, and its health-check system call, per batch. A
// batch that fails on that connection with other than a Redis error reply
// (Redis restarted, the connection was cut) drops it; the batch is sent
// again once, on a new connection, when the one it failed on had served an
// earlier batch (the reads are idempotent), so that a connection gone stale
// while idle fails no read.
func Coalesce() StoreOption {
	return func(s *Store) {
		c := &coalescer{rdb: s.rdb}
		if cl, ok := s.rdb.(*redis.Client); ok {
			c.client = cl
		}
		s.coalesce = c
	}
}

// coalescer sends the commands of concurrent reads in batches, one batch in
// flight at a time, without a goroutine of its own: the caller whose read
// finds none in flight sends it (it leads); the reads that arrive meanwhile
// queue, and when the batch comes back its leader hands the queue, as the
// next batch, to the first caller in it, which sends it and leads in turn.
type coalescer struct {
	rdb     redis.UniversalClient
	mu      sync.Mutex
	busy    bool // a batch is in flight
	waiting []*call

	// client, when rdb is a *redis.Client, gives the batches their own
	// connection, conn (nil: none yet, or dropped after an error), and
	// pipe, a pipeline on it reused from batch to batch. Only the leader
	// of the batch in flight uses them: the handover of the lead (under
	// mu, then over a call's channel) orders the uses.
	client *redis.Client
	conn   *redis.Conn
	pipe   redis.Pipeliner
	used   bool // conn has served a batch
}

// call is one caller's command, reused from read to read (calls).
type call struct {
	cmd redis.Cmder
	// done receives nil when the command has its reply, or the batch this
	// call is to lead (whose first call it is).
	done chan []*call
	// alone is the batch of the call alone.
	alone [1]*call
}

var calls = sync.Pool{New: func() any {
	c := &call{done: make(chan []*call, 1)}
	c.alone[0] = c
	return c
}}

// do sends cmd, alone or with the commands of concurrent callers, and
// returns when it has its reply (or error). A caller that queued waits for
// its batch whatever its context: it may be the one to send it (the
// batch's commands are bounded by the client's read and write timeouts).
func (c *coalescer) do(ctx context.Context, cmd redis.Cmder) {
	me := calls.Get().(*call)
	me.cmd = cmd
	c.mu.Lock()
	if !c.busy {
		c.busy = true
		c.mu.Unlock()
		c.lead(ctx, me.alone[:])
	} else {
		c.waiting = append(c.waiting, me)
		c.mu.Unlock()
		if batch := <-me.done; batch != nil {
			c.lead(ctx, batch)
		}
	}
	// Nothing refers to me any more: its leader, having woken it, or its
	// successor, having been handed the lead, does not touch it again.
	me.cmd = nil
	calls.Put(me)
}

// lead sends batch (batch[0] is the caller's), wakes its other callers and
// hands the reads queued meanwhile to the next leader.
func (c *coalescer) lead(ctx context.Context, batch []*call) {
	// The batch carries other callers' commands: the leader's cancellation
	// must not fail them.
	ctx = context.WithoutCancel(ctx)
	c.send(ctx, batch)
	for _, cl := range batch[1:] {
		cl.done <- nil
	}
	c.mu.Lock()
	next := c.waiting
	switch {
	case len(next) == 0:
		c.busy = false // next, empty, stays the queue
	case cap(batch) > 1:
		// The batch was a queue: it is the next one.
		clear(batch)
		c.waiting = batch[:0]
	default:
		c.waiting = nil
	}
	c.mu.Unlock()
	if len(next) > 0 {
		next[0].done <- next
	}
}

// send sends the commands of batch and gives each its reply or error.
func (c *coalescer) send(ctx context.Context, batch []*call) {
	if c.client == nil {
		_ = sendOn(ctx, c.rdb, nil, batch)
		return
	}
	for attempt := 0; ; attempt++ {
		if c.conn == nil {
			c.conn, c.used = c.client.Conn(), false
			c.pipe = c.conn.Pipeline()
		}
		err := sendOn(ctx, c.conn, c.pipe, batch)
		if err == nil || isReply(err) {
			c.used = true
			return
		}
		// The connection may be broken (go-redis's sticky connection
		// then refuses every later command): drop it.
		stale := c.used
		_ = c.conn.Close()
		c.conn, c.pipe = nil, nil
		if !stale || attempt > 0 {
			return
		}
	}
}

// isReply reports whether err is an error reply of Redis (the connection
// is fine).
func isReply(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply)
}

// processor is what a batch is sent through: the client, or its connection.
type processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
	Pipeline() redis.Pipeliner
}

// sendOn sends the commands of batch through p, on pipe when not nil
// (otherwise a pipeline of its own), and returns the first error.
func sendOn(ctx context.Context, p processor, pipe redis.Pipeliner, batch []*call) error {
	if len(batch) == 1 {
		return p.Process(ctx, batch[0].cmd)
	}
	if pipe == nil {
		pipe = p.Pipeline()
	}
	for _, cl := range batch {
		_ = pipe.Process(ctx, cl.cmd)
	}
	_, err := pipe.Exec(ctx)
	return err
}
