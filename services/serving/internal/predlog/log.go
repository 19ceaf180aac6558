package predlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer is what the log needs of a Kafka client; *kgo.Client has it.
// Build the client with ProducerOpts.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

var _ Producer = (*kgo.Client)(nil)

// Log is the prediction log. Log (the method) may be called from any
// goroutine; Run does the work.
type Log struct {
	cfg    Config
	logger *slog.Logger
	prod   Producer
	m      *metrics

	in      chan Entry
	mu      sync.RWMutex // closed, against Log
	closed  bool
	full    atomic.Bool  // memory and spill are full: Log drops at once
	inBytes atomic.Int64 // sizes of the entries in in

	dropped [len(reasons)]atomic.Int64
	stats   struct {
		queuedRecords, queuedBytes, spillBytes atomic.Int64
		sent, spilled, replayed                atomic.Int64
	}

	running  atomic.Bool
	done     chan struct{}
	closeErr error
	once     sync.Once

	// Used by the Run goroutine alone.
	sp         *spill
	seq        uint64
	pending    []*rec // not yet handed to the client, in seq order
	retry      []*rec // failed, to send again before pending, in seq order
	retryAt    time.Time
	backoff    time.Duration
	inflight   map[uint64]*rec
	memRecords int   // pending, retry and in flight
	memBytes   int64 // their sizes
	lastSize   int
	lastSync   time.Time
	lastDrop   time.Time
	loggedDrop [len(reasons)]int64
	sendCtx    context.Context
	cancelSend context.CancelFunc

	ackMu    sync.Mutex
	acks     []ack
	acksNext []ack
	ackCh    chan struct{}
}

type ack struct {
	r   *rec
	err error
}

// New opens the log: it validates cfg and, when cfg.SpillDir is set, locks
// the spill directory and recovers what an earlier process left there
// (truncating a torn tail), to be sent first once Run starts. Call Run,
// and Close when Run will not be called. The fields that are not flags
// (Topic, AckInterval, DropLogInterval) get their defaults when zero.
func New(cfg Config, prod Producer, logger *slog.Logger, reg prometheus.Registerer) (*Log, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Log{
		cfg:      cfg,
		logger:   logger,
		prod:     prod,
		in:       make(chan Entry, queueLen),
		done:     make(chan struct{}),
		inflight: make(map[uint64]*rec, cfg.MaxInFlight),
		ackCh:    make(chan struct{}, 1),
		seq:      1,
		backoff:  minBackoff,
	}
	if cfg.SpillDir != "" {
		sp, err := openSpill(cfg.SpillDir, cfg.SpillSegmentBytes, cfg.SpillMaxBytes, logger)
		if err != nil {
			return nil, fmt.Errorf("open prediction log spill: %w", err)
		}
		l.sp = sp
		l.seq = sp.nextSeq
		l.stats.spillBytes.Store(sp.total)
		if len(sp.segs) > 0 {
			logger.Info("prediction log spill found: sending it first", "segments", len(sp.segs), "bytes", sp.total)
		}
	}
	l.m = newMetrics(reg, l)
	return l, nil
}

// queueLen is the capacity of the hand-off from Log to Run; the bytes in
// it are bounded by Config.MaxBufferedBytes as well.
const queueLen = 4096

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Log queues e to be sent and returns at once: true when it is queued,
// false when it was dropped (and counted): e is invalid or too large, the
// log is closed, or memory and spill are both full. It never waits for
// Kafka or the disk.
func (l *Log) Log(e Entry) bool {
	if e.ID == "" || e.Source == "" {
		l.drop(rInvalid, 1)
		return false
	}
	size := int64(e.size())
	if size > int64(l.cfg.MaxRecordBytes) {
		l.drop(rTooLarge, 1)
		return false
	}
	if l.full.Load() {
		if l.sp == nil {
			l.drop(rBufferFull, 1)
		} else {
			l.drop(rSpillFull, 1)
		}
		return false
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if l.inBytes.Add(size) > l.cfg.MaxBufferedBytes {
		l.inBytes.Add(-size)
		l.drop(rQueueFull, 1)
		return false
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		l.drop(rClosed, 1)
		return false
	}
	var ok bool
	select {
	case l.in <- e:
		ok = true
	default:
	}
	l.mu.RUnlock()
	if !ok {
		l.inBytes.Add(-size)
		l.drop(rQueueFull, 1)
	}
	return ok
}

// Stats are counts since New, for tests and health checks.
type Stats struct {
	Sent          int64 // acknowledged by Kafka
	Spilled       int64 // written to the spill
	SpillRead     int64 // read back from the spill to be sent
	Dropped       int64 // all reasons
	QueuedRecords int64 // in memory
	SpillBytes    int64 // bytes of the spill files
}

// Stats returns the counts.
func (l *Log) Stats() Stats {
	s := Stats{
		Sent:          l.stats.sent.Load(),
		Spilled:       l.stats.spilled.Load(),
		SpillRead:     l.stats.replayed.Load(),
		QueuedRecords: l.stats.queuedRecords.Load(),
		SpillBytes:    l.stats.spillBytes.Load(),
	}
	for i := range l.dropped {
		s.Dropped += l.dropped[i].Load()
	}
	return s
}

// DroppedBy returns the count of records dropped for a reason (one of the
// Reason constants).
func (l *Log) DroppedBy(reason string) int64 {
	if i := slices.Index(reasons[:], reason); i >= 0 {
		return l.dropped[i].Load()
	}
	return 0
}

// Reason indexes into reasons.
const (
	rTooLarge = iota
	rInvalid
	rQueueFull
	rBufferFull
	rSpillFull
	rSpillError
	rRejected
	rClosed
	rShutdown
)

func (l *Log) drop(reason int, n int64) {
	l.dropped[reason].Add(n)
	l.m.dropped[reason].Add(float64(n))
}

// Run sends until ctx ends, then drains: it stops taking records (Log then
// returns false) and keeps sending what is in memory and in the spill for
// up to Config.DrainTimeout; what is left in memory then is written to the
// spill for the next process. Run returns nil after a drain; an error only
// when the spill could not be closed. Call it once; stop the HTTP server
// first, so that every prediction answered reached Log before.
func (l *Log) Run(ctx context.Context) error {
	if !l.running.CompareAndSwap(false, true) {
		return errors.New("prediction log: Run called twice or after Close")
	}
	defer close(l.done)
	l.sendCtx, l.cancelSend = context.WithCancel(context.Background())
	defer l.cancelSend()
	tick := time.NewTicker(l.cfg.AckInterval)
	defer tick.Stop()
	l.lastSync, l.lastDrop = time.Now(), time.Now()
	l.fill()
	for {
		select {
		case <-ctx.Done():
			l.closeErr = l.drain(tick.C)
			return l.closeErr
		case e := <-l.in:
			l.take(e)
			for range 1024 {
				select {
				case e := <-l.in:
					l.take(e)
					continue
				default:
				}
				break
			}
		case <-l.ackCh:
			l.processAcks()
		case <-tick.C:
			l.periodic()
		}
		l.flushSpill()
		l.fill()
		l.update()
	}
}

// Close releases the spill directory when Run was not called (Run then
// fails); after Run was called it waits for Run to end and returns its
// error. It is safe to call more than once.
func (l *Log) Close() error {
	if !l.running.CompareAndSwap(false, true) {
		<-l.done
		return l.closeErr
	}
	l.once.Do(func() {
		defer close(l.done)
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		if l.sp != nil {
			l.closeErr = l.sp.close()
		}
	})
	return l.closeErr
}

// take routes one entry: to memory, or to the spill when memory is full or
// the spill has records not yet sent (newer records queue behind them).
func (l *Log) take(e Entry) {
	r := &rec{seq: l.seq, r: e.record(l.cfg.Topic), size: e.size()}
	l.inBytes.Add(-int64(r.size))
	l.seq++
	l.lastSize = r.size
	if !l.spilling(r.size) {
		l.pending = append(l.pending, r)
		l.memRecords++
		l.memBytes += int64(r.size)
		return
	}
	l.toSpill(r)
}

func (l *Log) memFull(size int) bool {
	return l.memRecords >= l.cfg.MaxBufferedRecords || l.memBytes+int64(size) > l.cfg.MaxBufferedBytes
}

func (l *Log) spilling(size int) bool {
	return l.memFull(size) || (l.sp != nil && (l.sp.w != nil || l.sp.unread()))
}

func (l *Log) toSpill(r *rec) {
	if l.sp == nil {
		l.drop(rBufferFull, 1)
		return
	}
	if !l.sp.fits(encodedLen(r)) {
		l.drop(rSpillFull, 1)
		return
	}
	if err := l.sp.append(r); err != nil {
		l.drop(rSpillError, 1)
		l.logger.Error("prediction log spill write failed", "err", err)
		return
	}
	l.m.spilled.Inc()
	l.stats.spilled.Add(1)
}

func (l *Log) flushSpill() {
	if l.sp == nil {
		return
	}
	if err := l.sp.flush(); err != nil {
		// The frames in the buffer are lost; the file may end torn, which
		// the next open truncates.
		l.logger.Error("prediction log spill write failed", "err", err)
		l.drop(rSpillError, 1)
		l.sp.wbuf = l.sp.wbuf[:0]
		_ = l.sp.seal()
	}
	if l.cfg.SpillSyncInterval == 0 {
		if err := l.sp.sync(); err != nil {
			l.logger.Error("prediction log spill sync failed", "err", err)
		}
	}
}

// fill hands records to the client, oldest first, up to MaxInFlight:
// records to retry, then memory, then the spill.
func (l *Log) fill() {
	for len(l.inflight) < l.cfg.MaxInFlight {
		var r *rec
		switch {
		case len(l.retry) > 0:
			if time.Now().Before(l.retryAt) {
				return
			}
			r, l.retry = l.retry[0], l.retry[1:]
		case len(l.pending) > 0:
			r, l.pending[0] = l.pending[0], nil
			l.pending = l.pending[1:]
		case l.sp != nil:
			var err error
			r, err = l.sp.next(l.cfg.Topic)
			if err != nil {
				l.logger.Error("prediction log spill unreadable: skipping the rest of the segment", "err", err)
				l.drop(rSpillError, 1)
				l.sp.skipReading()
				continue
			}
			if r == nil {
				if l.sp.w != nil {
					// Every spilled record is on its way: new records go
					// to memory again, behind them.
					if err := l.sp.seal(); err != nil {
						l.logger.Error("prediction log spill seal failed", "err", err)
					}
				}
				return
			}
			l.memRecords++
			l.memBytes += int64(r.size)
			l.m.replayed.Inc()
			l.stats.replayed.Add(1)
		default:
			return
		}
		l.produce(r)
	}
}

func (l *Log) produce(r *rec) {
	r.sent = time.Now()
	l.inflight[r.seq] = r
	l.prod.Produce(l.sendCtx, r.r, func(_ *kgo.Record, err error) {
		l.ackMu.Lock()
		l.acks = append(l.acks, ack{r, err})
		l.ackMu.Unlock()
		select {
		case l.ackCh <- struct{}{}:
		default:
		}
	})
}

// permanent reports a produce error that sending again cannot fix.
func permanent(err error) bool {
	for _, e := range []error{kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord, kerr.CorruptMessage, kerr.InvalidTopicException} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (l *Log) processAcks() {
	l.ackMu.Lock()
	acks := l.acks
	l.acks, l.acksNext = l.acksNext[:0], acks
	l.ackMu.Unlock()
	now := time.Now()
	collect, failed := false, false
	for i, a := range acks {
		acks[i] = ack{}
		r := a.r
		if _, ok := l.inflight[r.seq]; !ok {
			continue
		}
		delete(l.inflight, r.seq)
		if a.err != nil && !permanent(a.err) {
			l.retry = append(l.retry, r)
			l.m.retried.Inc()
			if !failed {
				l.logger.Warn("prediction log produce failed: sending again", "topic", l.cfg.Topic, "err", a.err)
			}
			failed = true
			continue
		}
		if a.err != nil {
			l.logger.Error("prediction log record rejected by kafka: dropped", "topic", l.cfg.Topic, "event_id", eventID(r.r), "err", a.err)
			l.drop(rRejected, 1)
		} else {
			l.m.sent.Inc()
			l.stats.sent.Add(1)
			l.m.sendDuration.Observe(now.Sub(r.sent).Seconds())
			l.backoff = minBackoff
		}
		l.memRecords--
		l.memBytes -= int64(r.size)
		if r.seg != nil {
			l.sp.done(r)
			collect = true
		}
	}
	if failed {
		slices.SortFunc(l.retry, func(a, b *rec) int { return cmpSeq(a.seq, b.seq) })
		l.retryAt = now.Add(l.backoff)
		l.backoff = min(2*l.backoff, maxBackoff)
	}
	if collect {
		if err := l.sp.collect(); err != nil {
			l.logger.Error("prediction log spill cleanup failed", "err", err)
		}
	}
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func eventID(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == "ce_id" {
			return string(h.Value)
		}
	}
	return ""
}

// periodic saves acknowledgements, fsyncs by the interval and logs drops.
func (l *Log) periodic() {
	now := time.Now()
	if l.sp != nil {
		if err := l.sp.saveAcks(); err != nil {
			l.logger.Error("prediction log spill ack save failed", "err", err)
		}
		if l.cfg.SpillSyncInterval > 0 && now.Sub(l.lastSync) >= l.cfg.SpillSyncInterval {
			if err := l.sp.sync(); err != nil {
				l.logger.Error("prediction log spill sync failed", "err", err)
			}
			l.lastSync = now
		}
	}
	if now.Sub(l.lastDrop) >= l.cfg.DropLogInterval {
		var attrs []any
		for i := range l.dropped {
			if n := l.dropped[i].Load(); n != l.loggedDrop[i] {
				attrs = append(attrs, reasons[i], n-l.loggedDrop[i])
				l.loggedDrop[i] = n
			}
		}
		if len(attrs) > 0 {
			l.logger.Warn("prediction log dropped records", append(attrs, "since", l.lastDrop.UTC().Format(time.RFC3339))...)
			l.lastDrop = now
		}
	}
}

// update publishes the gauges and whether Log must drop at once.
func (l *Log) update() {
	l.stats.queuedRecords.Store(int64(l.memRecords + len(l.in)))
	l.stats.queuedBytes.Store(l.memBytes)
	// A record would go to the spill (memory is full, or the spill holds
	// records not yet sent, which new ones queue behind) and it has no room.
	full := l.spilling(l.lastSize)
	if l.sp != nil {
		l.stats.spillBytes.Store(l.sp.total)
		full = full && !l.sp.fits(l.lastSize+64)
	}
	l.full.Store(full)
}

func (l *Log) empty() bool {
	return len(l.inflight) == 0 && len(l.pending) == 0 && len(l.retry) == 0 && (l.sp == nil || len(l.sp.segs) == 0)
}

// drain is Run's end: see Run.
func (l *Log) drain(tick <-chan time.Time) error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.full.Store(false)
	for {
		select {
		case e := <-l.in:
			l.take(e)
			continue
		default:
		}
		break
	}
	timeout := time.NewTimer(l.cfg.DrainTimeout)
	defer timeout.Stop()
	for {
		l.flushSpill()
		l.fill()
		l.update()
		if l.empty() {
			break
		}
		select {
		case <-l.ackCh:
			l.processAcks()
			continue
		case <-tick:
			l.periodic()
			continue
		case <-timeout.C:
		}
		break
	}
	l.cancelSend()
	// What is only in memory goes to the spill, each run of records between
	// two existing segments into a segment of its own, so that a replay
	// keeps the order.
	var left []*rec
	left = append(left, l.retry...)
	for _, r := range l.inflight {
		if r.seg == nil {
			left = append(left, r)
		}
	}
	left = append(left, l.pending...)
	left = slices.DeleteFunc(left, func(r *rec) bool { return r.seg != nil })
	slices.SortFunc(left, func(a, b *rec) int { return cmpSeq(a.seq, b.seq) })
	l.retry, l.pending, l.inflight = nil, nil, nil
	var err error
	if l.sp != nil {
		n := l.spillRecords(left)
		if n > 0 {
			l.logger.Info("prediction log: kafka did not take everything by the drain timeout; the rest is in the spill", "records", n)
		}
		err = l.sp.close()
		l.stats.spillBytes.Store(l.sp.total)
	} else if len(left) > 0 {
		l.drop(rShutdown, int64(len(left)))
		l.logger.Warn("prediction log: kafka did not take everything by the drain timeout and there is no spill: dropped", "records", len(left))
	}
	l.periodic()
	l.lastDrop = time.Time{}
	l.periodic()
	if err != nil {
		return fmt.Errorf("close prediction log spill: %w", err)
	}
	return nil
}

// spillRecords writes records (sorted by seq, none in the spill yet) into
// new segments, starting a segment before each existing one they pass. It
// returns how many it wrote.
func (l *Log) spillRecords(recs []*rec) int {
	if err := l.sp.seal(); err != nil {
		l.logger.Error("prediction log spill seal failed", "err", err)
	}
	firsts := make([]uint64, 0, len(l.sp.segs))
	for _, s := range l.sp.segs {
		firsts = append(firsts, s.first)
	}
	written := 0
	var prev uint64
	for _, r := range recs {
		if l.sp.w != nil {
			i, _ := slices.BinarySearch(firsts, prev+1)
			if i < len(firsts) && firsts[i] <= r.seq {
				if err := l.sp.seal(); err != nil {
					l.logger.Error("prediction log spill seal failed", "err", err)
				}
			}
		}
		prev = r.seq
		if !l.sp.fits(encodedLen(r)) {
			l.drop(rShutdown, 1)
			continue
		}
		if err := l.sp.append(r); err != nil {
			l.logger.Error("prediction log spill write failed", "err", err)
			l.drop(rShutdown, 1)
			continue
		}
		written++
		l.stats.spilled.Add(1)
		l.m.spilled.Inc()
	}
	if err := l.sp.flush(); err != nil {
		l.logger.Error("prediction log spill write failed", "err", err)
	}
	return written
}
