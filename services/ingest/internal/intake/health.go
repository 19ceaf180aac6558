package intake

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Health tracks whether Kafka is known to be down, so that requests fail
// fast during an outage instead of each waiting the whole produce timeout.
// Kafka is known down from the first sign of an outage — the producer could
// not connect to a broker, or a request waited its whole produce timeout
// with no acknowledgement — until the next acknowledgement of any record
// (the producer keeps retrying what it buffered, so the first one after
// the outage ends it). Pass it to the producer with kgo.WithHooks and to
// intake in Config.Health. Safe for concurrent use.
type Health struct {
	down   atomic.Bool
	mu     sync.Mutex
	signal chan struct{} // closed when Kafka turns known down
}

// NewHealth returns a Health that knows of no outage.
func NewHealth() *Health { return &Health{signal: make(chan struct{})} }

var _ kgo.HookBrokerConnect = (*Health)(nil)

// OnBrokerConnect implements kgo.HookBrokerConnect: a failed connection is
// a sign of an outage.
func (h *Health) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.markDown()
	}
}

// Down reports whether Kafka is known to be down.
func (h *Health) Down() bool { return h.down.Load() }

func (h *Health) markDown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down.Load() {
		h.down.Store(true)
		close(h.signal)
	}
}

func (h *Health) markUp() {
	if !h.down.Load() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down.Load() {
		h.down.Store(false)
		h.signal = make(chan struct{})
	}
}

// state returns whether Kafka is known down and, when not, a channel
// closed when it turns so.
func (h *Health) state() (bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down.Load(), h.signal
}
