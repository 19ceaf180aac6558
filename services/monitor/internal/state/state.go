// Package state keeps the monitor's drift snapshot (the open windows and the
// offsets they include) in a NATS key-value bucket of its own,
// tributary_monitor, one key per consumer group.
package state

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the monitor's key-value bucket.
const Bucket = "tributary_monitor"

// BucketConfig is the bucket's configuration (one revision per key: only
// the latest snapshot matters).
func BucketConfig(prefix string, replicas int, memory bool) jetstream.KeyValueConfig {
	storage := jetstream.FileStorage
	if memory {
		storage = jetstream.MemoryStorage
	}
	return jetstream.KeyValueConfig{Bucket: prefix + Bucket, Description: "Tributary monitor: drift window snapshots, one key per consumer group.", History: 1, Storage: storage, Replicas: replicas}
}

// Store reads and writes one snapshot key.
type Store struct {
	kv  func(context.Context) (jetstream.KeyValue, error)
	key string
}

// NewStore keeps the snapshot of group in the bucket kv returns.
func NewStore(kv func(context.Context) (jetstream.KeyValue, error), group string) *Store {
	key := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '=' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, "drift."+group)
	return &Store{kv: kv, key: key}
}

// Load returns the snapshot, nil when there is none.
func (s *Store) Load(ctx context.Context) ([]byte, error) {
	kv, err := s.kv(ctx)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, s.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read drift snapshot %s: %w", s.key, err)
	}
	return e.Value(), nil
}

// Save writes the snapshot.
func (s *Store) Save(ctx context.Context, b []byte) error {
	kv, err := s.kv(ctx)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, s.key, b); err != nil {
		return fmt.Errorf("write drift snapshot %s (%d bytes): %w", s.key, len(b), err)
	}
	return nil
}
