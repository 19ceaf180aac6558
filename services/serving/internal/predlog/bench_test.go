package predlog_test

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/services/serving/internal/predlog"
)

// acker acknowledges every record at once.
type acker struct{}

func (acker) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	promise(r, nil)
}

func benchConfig() predlog.Config {
	cfg := testConfig("")
	cfg.MaxBufferedRecords = 1 << 20
	cfg.MaxBufferedBytes = 1 << 30
	cfg.MaxInFlight = 10000
	return cfg
}

func benchEntry() predlog.Entry {
	e := entry(1, 1)
	e.Data = make([]byte, 300)
	e.Time = time.Now()
	return e
}

// BenchmarkLog is the cost of Log on the predict path for a ~300-byte
// prediction record.
//
//   - accept: the caller's cost when the hand-off queue has room (a new log
//     for every 4096 records, outside the timing).
//   - drop: the caller's cost when the queue is full (Run not running).
//   - sustained: records through a running log whose loop encodes and
//     "sends" them; the caller logs 1000 and waits until they are
//     acknowledged, so ns/op is the pipeline's throughput, not the caller's
//     cost; cpu-ns/op is the CPU it used per record (both goroutines, the
//     caller's waiting included).
func BenchmarkLog(b *testing.B) {
	e := benchEntry()
	b.Run("accept", func(b *testing.B) {
		b.ReportAllocs()
		var l *predlog.Log
		n := 0
		for b.Loop() {
			if n%4000 == 0 {
				b.StopTimer()
				if l != nil {
					l.Close()
				}
				var err error
				if l, err = predlog.New(benchConfig(), acker{}, discard(), prometheus.NewRegistry()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			n++
			if !l.Log(e) {
				b.Fatal("dropped")
			}
		}
		l.Close()
	})
	b.Run("drop", func(b *testing.B) {
		l, err := predlog.New(benchConfig(), acker{}, discard(), prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		for range 5000 {
			l.Log(e)
		}
		b.ReportAllocs()
		for b.Loop() {
			if l.Log(e) {
				b.Fatal("accepted")
			}
		}
	})
	b.Run("sustained", func(b *testing.B) {
		l, err := predlog.New(benchConfig(), acker{}, discard(), prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		b.ReportAllocs()
		n := int64(0)
		cpu0 := cpuTime()
		for b.Loop() {
			if !l.Log(e) {
				b.Fatal("dropped")
			}
			if n++; n%1000 == 0 {
				for l.Stats().Sent < n {
					runtime.Gosched()
				}
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		cancel()
		<-done
	})
}

// cpuTime is the process's user and system CPU time in ns: on a loaded
// machine a better measure of the pipeline's cost than the wall clock.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
