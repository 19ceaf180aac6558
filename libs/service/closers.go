package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// closers holds what must be released at exit, closed in reverse order of
// registration: a client opened after another may depend on it.
type closers struct {
	mu   sync.Mutex
	list []namedCloser
}

type namedCloser struct {
	name  string
	close func(context.Context) error
}

func (c *closers) add(name string, close func(context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, namedCloser{name, close})
}

// closeGrace is how long a closer may still take once the shutdown deadline
// has passed: enough for one that releases at once, such as a client's
// Close, so that one stuck closer does not leave every other one open.
const closeGrace = 100 * time.Millisecond

// closeAll closes everything, last registered first, each with ctx (the
// shutdown deadline), and returns all errors joined. A closer that has not
// returned by the deadline (plus closeGrace) is left behind and reported, and
// the ones before it still get their turn.
func (c *closers) closeAll(ctx context.Context, logger *slog.Logger) error {
	c.mu.Lock()
	list := c.list
	c.list = nil
	c.mu.Unlock()

	var errs []error
	for i := len(list) - 1; i >= 0; i-- {
		cl := list[i]
		done := make(chan error, 1)
		go func() { done <- cl.close(ctx) }()
		var err error
		select {
		case err = <-done:
		case <-ctx.Done():
			grace := time.NewTimer(closeGrace)
			select {
			case err = <-done:
			case <-grace.C:
				err = fmt.Errorf("not closed by the shutdown deadline: %w", ctx.Err())
			}
			grace.Stop()
		}
		if err != nil {
			logger.Error("close", "name", cl.name, "err", err)
			errs = append(errs, fmt.Errorf("close %s: %w", cl.name, err))
			continue
		}
		logger.Info("closed", "name", cl.name)
	}
	return errors.Join(errs...)
}
