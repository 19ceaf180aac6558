package featurespec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Watcher is told of every change to the feature definitions in the bucket.
type Watcher interface {
	// Put is a view defined or changed.
	Put(v View)
	// Invalid is an entry that does not decode: the view is to be ignored.
	Invalid(key string, revision uint64, err error)
	// Delete is a view removed (deleted or purged).
	Delete(name string)
	// CaughtUp is called once the watch has delivered the definitions
	// that existed when it started (again after each re-watch).
	CaughtUp()
}

// Watch follows the feature definitions in the bucket kv opens until ctx
// ends, telling w of each change, and watches again a second after an
// error (logged). It returns nil when ctx ends.
func Watch(ctx context.Context, logger *slog.Logger, kv func(context.Context) (jetstream.KeyValue, error), w Watcher) error {
	for {
		err := watchOnce(ctx, kv, w)
		if ctx.Err() != nil {
			return nil
		}
		logger.Warn("feature definitions watch stopped", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func watchOnce(ctx context.Context, kvf func(context.Context) (jetstream.KeyValue, error), w Watcher) error {
	kv, err := kvf(ctx)
	if err != nil {
		return err
	}
	kw, err := kv.Watch(ctx, KeyPrefix+">")
	if err != nil {
		return fmt.Errorf("watch feature definitions: %w", err)
	}
	defer func() { _ = kw.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-kw.Updates():
			if !ok {
				return errors.New("watch closed")
			}
			if e == nil {
				w.CaughtUp()
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				w.Delete(e.Key()[len(KeyPrefix):])
				continue
			}
			v, err := FromEntry(e.Key(), e.Value())
			if err != nil {
				w.Invalid(e.Key(), e.Revision(), err)
				continue
			}
			w.Put(v)
		}
	}
}
