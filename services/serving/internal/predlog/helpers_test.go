package predlog_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/serving/internal/predlog"
)

const topic = "tributary.predictions"

// cluster is a kfake broker whose produce requests can be failed.
type cluster struct {
	t     *testing.T
	c     *kfake.Cluster
	fault *kfake.FaultHandle
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &cluster{t: t, c: c}
}

// down fails every produce request with a retriable error until up.
func (c *cluster) down() {
	c.fault = c.c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
}

func (c *cluster) up() {
	c.fault.Remove()
	c.fault = nil
}

func (c *cluster) client() *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append(predlog.ProducerOpts(1<<20), kgo.SeedBrokers(c.c.ListenAddrs()...), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

func testConfig(dir string) predlog.Config {
	return predlog.Config{
		Topic:              topic,
		MaxBufferedRecords: 50,
		MaxBufferedBytes:   1 << 20,
		MaxRecordBytes:     4 << 10,
		MaxInFlight:        20,
		SpillDir:           dir,
		SpillSegmentBytes:  16 << 10,
		SpillMaxBytes:      1 << 20,
		SpillSyncInterval:  0,
		DrainTimeout:       5 * time.Second,
		AckInterval:        20 * time.Millisecond,
		DropLogInterval:    time.Second,
	}
}

// fakeConfig is testConfig for a Producer that may never answer: the
// drain at the end of the test is short.
func fakeConfig(dir string) predlog.Config {
	cfg := testConfig(dir)
	cfg.DrainTimeout = 10 * time.Millisecond
	return cfg
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// running is a Log with its Run goroutine.
type running struct {
	*predlog.Log
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg predlog.Config, p predlog.Producer) *running {
	t.Helper()
	return startWith(t, cfg, p, discard())
}

// testLogger writes warnings and errors to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func startWith(t *testing.T, cfg predlog.Config, p predlog.Producer, logger *slog.Logger) *running {
	t.Helper()
	l, err := predlog.New(cfg, p, logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Log: l, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- l.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and waits for its drain; safe to call twice.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("run: %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not end")
	}
}

// entry is prediction i of the tests: id p-000042, key k<i%keys>.
func entry(i, keys int) predlog.Entry {
	return predlog.Entry{
		ID:     fmt.Sprintf("p-%06d", i),
		Source: "/serving/test",
		Key:    "k" + strconv.Itoa(i%keys),
		Time:   time.Unix(1700000000, int64(i)).UTC(),
		Data:   []byte(`{"prediction_id":"` + fmt.Sprintf("p-%06d", i) + `","prediction":0.5}`),
	}
}

func idNum(t testing.TB, id string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "p-"))
	if err != nil {
		t.Fatalf("id %q: %v", id, err)
	}
	return n
}

// consume reads the topic from its start until want distinct ids are there
// (and half a second more, to see duplicates), or the timeout.
func consume(t *testing.T, brokers []string, topic string, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	ids := map[string]bool{}
	deadline := time.Now().Add(timeout)
	var settle time.Time
	for {
		now := time.Now()
		if now.After(deadline) || (!settle.IsZero() && now.After(settle)) {
			return out
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			ids[header(r, "ce_id")] = true
		})
		if len(ids) >= want && settle.IsZero() {
			settle = time.Now().Add(500 * time.Millisecond)
		}
	}
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// checkExactlyOnce checks that the records hold each id of want exactly
// once, no other, and that per key the ids increase (the log order).
func checkExactlyOnce(t *testing.T, recs []*kgo.Record, want map[int]bool) {
	t.Helper()
	if dup := checkOnceByID(t, recs, want); dup > 0 {
		t.Fatalf("%d records on the topic more than once", dup)
	}
}

// checkOnceByID is checkExactlyOnce for a consumer that deduplicates by
// event id (the prediction id), as the monitor does: every id of want is
// there, no other, and per key the first copies are in the log order. It
// returns how many ids are on the topic more than once, and logs them.
func checkOnceByID(t *testing.T, recs []*kgo.Record, want map[int]bool) int {
	t.Helper()
	seen := map[int]int{}
	last := map[string]int{}
	disorder := 0
	for _, r := range recs {
		n := idNum(t, header(r, "ce_id"))
		seen[n]++
		if seen[n] > 1 {
			t.Logf("id %d again: partition %d offset %d", n, r.Partition, r.Offset)
			continue
		}
		k := string(r.Key)
		if p, ok := last[k]; ok && n < p {
			disorder++
		}
		last[k] = n
	}
	missing, dup, extra := 0, 0, 0
	for n := range want {
		switch seen[n] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	for n := range seen {
		if !want[n] {
			extra++
		}
	}
	if missing+extra+disorder > 0 {
		t.Fatalf("of %d records wanted, %d missing, %d not wanted on the topic; %d out of order within a key (%d records read, %d ids more than once)", len(want), missing, extra, disorder, len(recs), dup)
	}
	return dup
}

func upTo(n int) map[int]bool {
	m := make(map[int]bool, n)
	for i := range n {
		m[i] = true
	}
	return m
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		if cond() {
			return nil
		}
		return fmt.Errorf("%s", what)
	})
}

// copyDir copies the files of a directory, as a crash would leave them.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// recorder is a Producer that keeps records and answers later, for tests
// that need to hold acknowledgements.
type recorder struct {
	mu   sync.Mutex
	recs []*kgo.Record
	prom []func(*kgo.Record, error)
}

func (p *recorder) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recs = append(p.recs, r)
	p.prom = append(p.prom, promise)
}

func (p *recorder) len() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.recs) }

// answer acknowledges (err nil) or fails the records at the indexes.
func (p *recorder) answer(err error, idx ...int) {
	p.mu.Lock()
	recs, proms := p.recs, p.prom
	p.mu.Unlock()
	for _, i := range idx {
		proms[i](recs[i], err)
	}
}
