package predlog_test

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/services/serving/internal/predlog"
)

// TestRecordEqualsToKafkaRecord: the log's own encoding of an entry is the
// record event.ToKafkaRecord makes of the same CloudEvent.
func TestRecordEqualsToKafkaRecord(t *testing.T) {
	cases := []struct {
		name string
		e    predlog.Entry
	}{
		{"full", predlog.Entry{ID: "p-1", Source: "/serving/a", Type: "com.example.x.v1", Key: "user-7", Time: time.Date(2026, 12, 1, 9, 30, 0, 123456789, time.FixedZone("x", 3600)),
			Data: []byte(`{"a":1}`), TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceState: "k=v"}},
		{"defaults", predlog.Entry{ID: "p-2", Source: "/serving/a", Key: "u", Time: time.Unix(1700000000, 0), Data: []byte(`{}`)}},
		{"no key", predlog.Entry{ID: "p-3", Source: "/s", Time: time.Unix(1700000000, 5), Data: []byte(`[1]`)}},
		{"no data", predlog.Entry{ID: "p-4", Source: "/s", Key: "k", Time: time.Unix(1700000000, 5)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &recorder{}
			r := start(t, fakeConfig(""), p)
			if !r.Log.Log(tc.e) {
				t.Fatal("dropped")
			}
			eventually(t, "record produced", func() bool { return p.len() == 1 })
			got := p.recs[0]

			ev := ce.New()
			ev.SetID(tc.e.ID)
			ev.SetSource(tc.e.Source)
			typ := tc.e.Type
			if typ == "" {
				typ = event.TypePredictionLogged
			}
			ev.SetType(typ)
			ev.SetTime(tc.e.Time)
			if len(tc.e.Data) > 0 {
				if err := ev.SetData("application/json", tc.e.Data); err != nil {
					t.Fatal(err)
				}
			}
			if tc.e.TraceParent != "" {
				ev.SetExtension("traceparent", tc.e.TraceParent)
			}
			if tc.e.TraceState != "" {
				ev.SetExtension("tracestate", tc.e.TraceState)
			}
			var opts []event.KafkaOption
			if tc.e.Key != "" {
				opts = append(opts, event.WithKey([]byte(tc.e.Key)))
			}
			want, err := event.ToKafkaRecord(context.Background(), ev, topic, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got.Topic != want.Topic || string(got.Key) != string(want.Key) || (got.Key == nil) != (want.Key == nil) || string(got.Value) != string(want.Value) {
				t.Errorf("record: got topic %q key %q value %q, want %q %q %q", got.Topic, got.Key, got.Value, want.Topic, want.Key, want.Value)
			}
			if !slices.EqualFunc(got.Headers, want.Headers, func(a, b kgo.RecordHeader) bool { return a.Key == b.Key && string(a.Value) == string(b.Value) }) {
				t.Errorf("headers:\n got %s\nwant %s", fmtHeaders(got.Headers), fmtHeaders(want.Headers))
			}
			if !got.Timestamp.Equal(tc.e.Time) {
				t.Errorf("timestamp %v, want %v", got.Timestamp, tc.e.Time)
			}
			back, err := event.FromKafkaRecord(got)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if back.ID() != tc.e.ID || back.Type() != typ {
				t.Errorf("decoded %s %s", back.ID(), back.Type())
			}
		})
	}
}

func fmtHeaders(hs []kgo.RecordHeader) string {
	s := ""
	for _, h := range hs {
		s += h.Key + "=" + string(h.Value) + " "
	}
	return s
}

// TestSendsInOrder: with Kafka up, every record is on the topic once, in
// order per key, nothing is spilled, and the spill directory ends empty.
func TestSendsInOrder(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	r := start(t, testConfig(dir), c.client())
	const n = 2000
	for i := range n {
		for !r.Log.Log(entry(i, 7)) {
			t.Fatalf("record %d dropped", i)
		}
	}
	eventually(t, "all sent", func() bool { return r.Stats().Sent == n })
	r.stop(t)
	checkExactlyOnce(t, consume(t, c.c.ListenAddrs(), topic, n, 20*time.Second), upTo(n))
	if s := r.Stats(); s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
	if segs := segments(t, dir); len(segs) != 0 {
		t.Errorf("segments left: %v", segs)
	}
}

// TestOutageSpillsAndResends: while produce requests fail, records beyond
// the memory bound go to the spill (several segments); when Kafka is back
// everything is sent once, in order per key, and the segments are deleted.
// Records logged after recovery queue behind the spill.
func TestOutageSpillsAndResends(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	r := start(t, testConfig(dir), c.client())
	for i := range 100 {
		r.Log.Log(entry(i, 5))
	}
	eventually(t, "first records sent", func() bool { return r.Stats().Sent == 100 })
	c.down()
	const n = 1500
	for i := 100; i < 1000; i++ {
		if !r.Log.Log(entry(i, 5)) {
			t.Fatalf("record %d dropped", i)
		}
	}
	eventually(t, "records spilled", func() bool { return r.Stats().Spilled >= 850 })
	if segs := segments(t, dir); len(segs) < 2 {
		t.Fatalf("want several segments, have %v", segs)
	}
	if s := r.Stats(); s.Sent != 100 {
		t.Fatalf("sent during the outage: %+v", s)
	}
	c.up()
	for i := 1000; i < n; i++ {
		if !r.Log.Log(entry(i, 5)) {
			t.Fatalf("record %d dropped", i)
		}
	}
	eventually(t, "all sent", func() bool { return r.Stats().Sent == n })
	eventually(t, "segments deleted", func() bool { return len(segments(t, dir)) == 0 })
	r.stop(t)
	checkExactlyOnce(t, consume(t, c.c.ListenAddrs(), topic, n, 20*time.Second), upTo(n))
	if s := r.Stats(); s.Dropped != 0 || s.SpillRead != s.Spilled {
		t.Errorf("stats %+v", s)
	}
}

// TestFullDropsNewest: with Kafka down and memory and spill full, the
// newest records are dropped: Log returns false and counts them with
// reason spill_full; what is on the topic after recovery is exactly the
// oldest records, a prefix of the log.
func TestFullDropsNewest(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.SpillSegmentBytes = 8 << 10
	cfg.SpillMaxBytes = 24 << 10
	reg := prometheus.NewRegistry()
	l, err := predlog.New(cfg, c.client(), discard(), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()
	c.down()
	const n = 2000
	accepted := 0
	for i := range n {
		if l.Log(entry(i, 3)) {
			accepted++
		}
		if i%100 == 99 { // let the loop keep up, as a steady load would
			// Memory holds 50; every other record is spilled or dropped.
			eventually(t, "records taken", func() bool { s := l.Stats(); return s.Spilled+s.Dropped == int64(i+1-50) })
		}
	}
	eventually(t, "every record handled", func() bool {
		s := l.Stats()
		return s.Spilled+s.Dropped+s.QueuedRecords >= n
	})
	dropped := l.DroppedBy(predlog.ReasonSpillFull)
	if dropped == 0 || accepted == n {
		t.Fatalf("accepted %d, dropped %d: the spill did not fill", accepted, dropped)
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, "tributary_serving_predictions_dropped_total", "spill_full")); got != float64(dropped) {
		t.Errorf("metric %v, counted %d", got, dropped)
	}
	kept := n - int(dropped)
	c.up()
	eventually(t, "kept records sent", func() bool { return l.Stats().Sent == int64(kept) })
	checkExactlyOnce(t, consume(t, c.c.ListenAddrs(), topic, kept, 20*time.Second), upTo(kept))
	t.Logf("accepted %d of %d, dropped %d (spill_full), sent %d", accepted, n, dropped, kept)
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name, reason string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" && lp.GetValue() == reason {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("metric %s{reason=%q} not found", name, reason)
	return nil
}

// TestShutdownSpillsAndRestartSends: Kafka is down at shutdown; after the
// drain timeout what is in memory goes to the spill, behind nothing and
// before the records spilled earlier, and the next process sends it all,
// once and in order, before its own new records.
func TestShutdownSpillsAndRestartSends(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.DrainTimeout = 200 * time.Millisecond
	r := start(t, cfg, c.client())
	c.down()
	const n = 600
	for i := range n {
		if !r.Log.Log(entry(i, 4)) {
			t.Fatalf("record %d dropped", i)
		}
	}
	eventually(t, "records taken", func() bool { s := r.Stats(); return s.Spilled+s.QueuedRecords >= n && s.QueuedRecords <= 50 })
	r.stop(t)
	if s := r.Stats(); s.Spilled != n || s.Sent != 0 {
		t.Fatalf("after shutdown: %+v (want all %d spilled)", s, n)
	}
	if r.Log.Log(entry(n, 4)) || r.DroppedBy(predlog.ReasonClosed) != 1 {
		t.Fatal("Log after Run accepted a record")
	}

	c2 := newCluster(t)
	r2 := start(t, cfg, c2.client())
	for i := n; i < n+100; i++ {
		if !r2.Log.Log(entry(i, 4)) {
			t.Fatalf("record %d dropped", i)
		}
	}
	eventually(t, "all sent", func() bool { return r2.Stats().Sent == n+100 })
	eventually(t, "segments deleted", func() bool { return len(segments(t, dir)) == 0 })
	r2.stop(t)
	checkExactlyOnce(t, consume(t, c2.c.ListenAddrs(), topic, n+100, 20*time.Second), upTo(n+100))
}

// TestCrashReplaysSpill: a process that dies (the spill directory copied as
// it is, mid-run) leaves its spill; a new process sends what was spilled,
// in order, once. What was only in memory at the crash is lost, as the
// README says.
func TestCrashReplaysSpill(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.DrainTimeout = 10 * time.Millisecond
	r := start(t, cfg, c.client())
	c.down()
	const n = 500
	for i := range n {
		if !r.Log.Log(entry(i, 4)) {
			t.Fatalf("record %d dropped", i)
		}
	}
	// Memory holds the first 50 (20 of them in flight); the rest is spilled.
	eventually(t, "records spilled", func() bool { return r.Stats().Spilled == n-50 })
	crashed := t.TempDir()
	copyDir(t, dir, crashed)

	c2 := newCluster(t)
	cfg.SpillDir = crashed
	r2 := start(t, cfg, c2.client())
	eventually(t, "spill sent", func() bool { return r2.Stats().Sent == n-50 })
	r2.stop(t)
	want := map[int]bool{}
	for i := 50; i < n; i++ {
		want[i] = true
	}
	checkExactlyOnce(t, consume(t, c2.c.ListenAddrs(), topic, n-50, 20*time.Second), want)
}

// TestAckFileLimitsReplay: a crash after part of the spill was
// acknowledged replays only the records after the acknowledged prefix.
func TestAckFileLimitsReplay(t *testing.T) {
	p := &recorder{}
	dir := t.TempDir()
	cfg := fakeConfig(dir)
	cfg.MaxBufferedRecords = 1 // everything beyond one record is spilled
	cfg.MaxInFlight = 100
	l, err := predlog.New(cfg, p, discard(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	// Queued before Run, the records are taken in one batch: the first
	// stays in memory (in flight), the others go to one segment (its first
	// seq is 2) and are read back at once.
	for i := range n {
		if !l.Log(entry(i, 1)) {
			t.Fatalf("record %d dropped", i)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, "all produced", func() bool { return p.len() == n })
	seg := filepath.Join(dir, "00000000000000000002.seg")
	if s := l.Stats(); s.Spilled != n-1 || len(segments(t, dir)) != 1 {
		t.Fatalf("stats %+v, segments %v", s, segments(t, dir))
	}
	// Acknowledge records 0..20 and 25 (out of order): the prefix ends
	// after 20, the segment's 20th frame.
	idx := []int{}
	for i := 0; i <= 20; i++ {
		idx = append(idx, i)
	}
	p.answer(nil, append(idx, 25)...)
	eventually(t, "acknowledged", func() bool { return l.Stats().Sent == 22 })
	end := frameEnd(t, seg, 20)
	eventually(t, "ack file saved", func() bool {
		b, _ := os.ReadFile(strings.TrimSuffix(seg, ".seg") + ".ack")
		return len(b) == 12 && binary.BigEndian.Uint64(b) == uint64(end)
	})
	crashed := t.TempDir()
	copyDir(t, dir, crashed)

	p2 := &recorder{}
	cfg.SpillDir = crashed
	start(t, cfg, p2)
	eventually(t, "replayed", func() bool { return p2.len() == n-21 })
	var got []int
	for _, rec := range p2.recs {
		got = append(got, idNum(t, header(rec, "ce_id")))
	}
	if want := ids(21, n); !slices.Equal(got, want) {
		t.Fatalf("replayed %v, want %v (25 again: acknowledged out of order, after the prefix)", got, want)
	}
}

// TestRetryKeepsOrder: a produce that fails with a retriable error is sent
// again before anything newer.
func TestRetryKeepsOrder(t *testing.T) {
	p := &recorder{}
	cfg := fakeConfig("")
	cfg.MaxInFlight = 3
	r := start(t, cfg, p)
	for i := range 6 {
		r.Log.Log(entry(i, 1))
	}
	eventually(t, "first three produced", func() bool { return p.len() == 3 })
	p.answer(kerr.NotLeaderForPartition, 0, 1, 2)
	eventually(t, "sent again", func() bool { return p.len() == 6 })
	var got []int
	for _, rec := range p.recs {
		got = append(got, idNum(t, header(rec, "ce_id")))
	}
	if want := []int{0, 1, 2, 0, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("produced %v, want %v", got, want)
	}
	p.answer(nil, 3, 4, 5)
	eventually(t, "rest produced", func() bool { return p.len() == 9 })
	p.answer(kerr.MessageTooLarge, 6)
	eventually(t, "rejected counted", func() bool { return r.DroppedBy(predlog.ReasonRejected) == 1 })
}

// TestLogRefuses: invalid and too large entries are refused at once.
func TestLogRefuses(t *testing.T) {
	r := start(t, fakeConfig(""), &recorder{})
	big := entry(1, 1)
	big.Data = make([]byte, 8<<10)
	cases := []struct {
		name   string
		e      predlog.Entry
		reason string
	}{
		{"no id", predlog.Entry{Source: "/s"}, predlog.ReasonInvalid},
		{"no source", predlog.Entry{ID: "x"}, predlog.ReasonInvalid},
		{"too large", big, predlog.ReasonTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := r.DroppedBy(tc.reason)
			if r.Log.Log(tc.e) {
				t.Fatal("accepted")
			}
			if r.DroppedBy(tc.reason) != before+1 {
				t.Fatalf("not counted as %s", tc.reason)
			}
		})
	}
}

// TestNoSpillDropsWhenFull: without a spill directory, a full memory buffer
// drops the newest with reason buffer_full.
func TestNoSpillDropsWhenFull(t *testing.T) {
	p := &recorder{}
	cfg := fakeConfig("")
	cfg.MaxBufferedRecords = 10
	cfg.MaxInFlight = 5
	r := start(t, cfg, p)
	for i := range 100 {
		r.Log.Log(entry(i, 1))
	}
	eventually(t, "drops", func() bool { return r.DroppedBy(predlog.ReasonBufferFull)+r.DroppedBy(predlog.ReasonSpillFull) == 90 })
}

// TestSpillLocked: two logs cannot share a spill directory.
func TestSpillLocked(t *testing.T) {
	dir := t.TempDir()
	l, err := predlog.New(testConfig(dir), &recorder{}, discard(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	_, err = predlog.New(testConfig(dir), &recorder{}, discard(), prometheus.NewRegistry())
	if !errors.Is(err, predlog.ErrSpillLocked) {
		t.Fatalf("second open: %v, want ErrSpillLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := predlog.New(testConfig(dir), &recorder{}, discard(), prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	l2.Close()
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*predlog.Config)
	}{
		{"records", func(c *predlog.Config) { c.MaxBufferedRecords = 0 }},
		{"bytes below a record", func(c *predlog.Config) { c.MaxBufferedBytes = 10 }},
		{"in flight", func(c *predlog.Config) { c.MaxInFlight = 0 }},
		{"segment below a record", func(c *predlog.Config) { c.SpillSegmentBytes = 100 }},
		{"spill below a segment", func(c *predlog.Config) { c.SpillMaxBytes = 1 << 10 }},
		{"sync", func(c *predlog.Config) { c.SpillSyncInterval = -1 }},
		{"drain", func(c *predlog.Config) { c.DrainTimeout = -1 }},
	}
	if err := testConfig(t.TempDir()).Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	var flagged predlog.Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	flagged.RegisterFlags(fs)
	if err := fs.Parse([]string{"-prediction-log.spill-dir=" + t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if err := flagged.Validate(); err != nil {
		t.Fatalf("the flags' defaults: %v", err)
	}
	if flagged.Topic != event.TopicPredictions {
		t.Errorf("topic %q", flagged.Topic)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			tc.edit(&cfg)
			if err := cfg.Validate(); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// frameEnd is the offset after the first n frames of a segment.
func frameEnd(t *testing.T, path string, n int) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var off int64
	for range n {
		off += 8 + int64(binary.BigEndian.Uint32(b[off:]))
	}
	return off
}

// TestFullBehindSpill: once memory has room again but the spill still holds
// unsent records, new records belong behind them; with the spill full, Log
// refuses them at once (false) instead of accepting what it then drops.
func TestFullBehindSpill(t *testing.T) {
	p := &recorder{}
	dir := t.TempDir()
	cfg := fakeConfig(dir)
	cfg.MaxBufferedRecords = 100
	cfg.MaxInFlight = 5
	cfg.SpillSegmentBytes = 8 << 10
	cfg.SpillMaxBytes = 8 << 10
	r := start(t, cfg, p)
	i := 0
	for ; ; i++ {
		if !r.Log.Log(entry(i, 1)) {
			break
		}
		if i > 10000 {
			t.Fatal("the spill never filled")
		}
		if i%50 == 49 {
			eventually(t, "records taken", func() bool { s := r.Stats(); return s.Spilled+s.Dropped+int64(min(i+1, 100)) == int64(i+1) })
		}
	}
	eventually(t, "in flight", func() bool { return p.len() == 5 })
	p.answer(nil, 0, 1, 2, 3, 4) // memory has room; the spill is still unsent
	eventually(t, "acknowledged", func() bool { return r.Stats().Sent == 5 && p.len() == 10 })
	before := r.DroppedBy(predlog.ReasonSpillFull)
	if r.Log.Log(entry(i+1, 1)) {
		t.Fatal("accepted a record that can only be dropped")
	}
	if got := r.DroppedBy(predlog.ReasonSpillFull); got != before+1 {
		t.Fatalf("spill_full %d, want %d", got, before+1)
	}
}
