package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrStoppedEarly reports an actor that returned without an error while its
// context was still live. Actors run until their context ends, so this is a
// bug or an unnoticed end of input, and it stops the group like an error.
var ErrStoppedEarly = errors.New("returned before shutdown")

// Group runs actors, long-running functions that stop when their context
// ends, as one unit: when one returns, all are stopped (the way oklog/run's
// groups work in Thanos). The zero value is an empty group.
type Group struct {
	actors []actor
}

type actor struct {
	name string
	run  func(context.Context) error
}

// Add adds an actor under a name used in errors and logs. run must return
// soon after its context is cancelled, with nil or the context's error. Add
// must not be called after Run.
func (g *Group) Add(name string, run func(ctx context.Context) error) {
	g.actors = append(g.actors, actor{name: name, run: run})
}

// Run starts every actor and waits until one returns or ctx ends, then
// cancels the others and waits for all of them. It returns nil when the group
// was stopped by ctx and every actor returned cleanly; otherwise the errors of
// all actors, joined, the first to return first, each wrapped with the
// actor's name. Context-cancellation errors after the stop are not errors.
func (g *Group) Run(ctx context.Context) error {
	if len(g.actors) == 0 {
		<-ctx.Done()
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(g.actors))
	var wg sync.WaitGroup
	for _, a := range g.actors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- result{a.name, a.run(ctx)}
		}()
	}

	var errs []error
	for range g.actors {
		r := <-results
		stopped := ctx.Err() != nil
		cancel()
		switch {
		case r.err == nil && !stopped:
			errs = append(errs, fmt.Errorf("actor %s: %w", r.name, ErrStoppedEarly))
		case r.err != nil && !(stopped && errors.Is(r.err, context.Canceled)):
			errs = append(errs, fmt.Errorf("actor %s: %w", r.name, r.err))
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}
