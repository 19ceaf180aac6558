package tiles

import (
	"context"
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
func Coalesce() StoreOption { return func(s *Store) { s.coalesce = &coalescer{rdb: s.rdb} } }

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
}

// call is one caller's commands.
type call struct {
	cmds []redis.Cmder
	// done receives nil when the commands have their replies, or the batch
	// this call is to lead (whose first call it is).
	done chan []*call
}

// do sends cmds, alone or with the commands of concurrent callers, and
// returns when they have their replies (each command holds its own error).
// A caller that queued waits for its batch whatever its context: it may be
// the one to send it (the batch's commands are bounded by the client's
// read and write timeouts).
func (c *coalescer) do(ctx context.Context, cmds ...redis.Cmder) {
	c.mu.Lock()
	if !c.busy {
		c.busy = true
		c.mu.Unlock()
		c.lead(ctx, []*call{{cmds: cmds}})
		return
	}
	me := &call{cmds: cmds, done: make(chan []*call, 1)}
	c.waiting = append(c.waiting, me)
	c.mu.Unlock()
	if batch := <-me.done; batch != nil {
		c.lead(ctx, batch)
	}
}

// lead sends batch (batch[0] is the caller's), wakes its other callers and
// hands the reads queued meanwhile to the next leader.
func (c *coalescer) lead(ctx context.Context, batch []*call) {
	// The batch carries other callers' commands: the leader's cancellation
	// must not fail them.
	ctx = context.WithoutCancel(ctx)
	if len(batch) == 1 && len(batch[0].cmds) == 1 {
		_ = c.rdb.Process(ctx, batch[0].cmds[0])
	} else {
		_, _ = c.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, cl := range batch {
				for _, cmd := range cl.cmds {
					_ = pipe.Process(ctx, cmd)
				}
			}
			return nil
		})
	}
	for _, cl := range batch[1:] {
		cl.done <- nil
	}
	c.mu.Lock()
	next := c.waiting
	c.waiting = nil
	if len(next) == 0 {
		c.busy = false
	}
	c.mu.Unlock()
	if len(next) > 0 {
		next[0].done <- next
	}
}
