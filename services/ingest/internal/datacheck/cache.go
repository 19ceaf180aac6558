package datacheck

import (
	"sync"

	"github.com/tributary-ml/tributary/libs/streamspec"
)

// Cache holds one Checker per stream name, compiled on first use of each
// version of a stream (a *streamspec.Stream is immutable: a new definition
// is a new one). Safe for concurrent use; the zero Cache is ready.
type Cache struct {
	byName sync.Map // name -> *Checker
}

// For returns the Checker of s.
func (c *Cache) For(s *streamspec.Stream) *Checker {
	if v, ok := c.byName.Load(s.Name); ok {
		if ch := v.(*Checker); ch.stream == s {
			return ch
		}
	}
	ch := New(s)
	c.byName.Store(s.Name, ch)
	return ch
}
