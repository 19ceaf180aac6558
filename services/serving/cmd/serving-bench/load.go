package main

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-ml/tributary/libs/httpload"
)

// result is one scenario's figures.
type result struct {
	name   string
	target float64 // the rate asked for (0: closed loop)
	// latencies of the completed requests, sorted; for an open loop from
	// each request's scheduled instant.
	latencies []time.Duration
	scheduled int // requests scheduled (open loop) or started (closed loop)
	failures  int
	// missed are the scheduled requests never sent: the generator's
	// workers were all waiting on the server until the run's end.
	missed  int
	elapsed time.Duration
	first   string // the first failure
	// cpu is the CPU time per answered request of the server, Redis and
	// the generator.
	cpu [3]time.Duration
	// load is the machine's load average at the end.
	load string
}

func (r result) done() int       { return len(r.latencies) }
func (r result) perSec() float64 { return float64(r.done()) / r.elapsed.Seconds() }

// pct is the p-quantile over every scheduled request, a failed or missed
// one counting as slower than any answer (+Inf): when more than 1-p of
// them failed, pct is +Inf.
func (r result) pct(p float64) time.Duration {
	n := r.done() + r.failures + r.missed
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(n))) - 1
	if i >= r.done() {
		return time.Duration(math.MaxInt64)
	}
	return r.latencies[max(i, 0)]
}

func fmtDur(d time.Duration) string {
	if d == time.Duration(math.MaxInt64) {
		return "inf"
	}
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// openLoop is httpload.OpenLoop's tally as a result: the rate achieved is
// over the scheduled span, requests answered divided by the run's length.
func openLoop(name string, rate int, d, grace time.Duration, workers int, op func(w, i int) error) result {
	n := int(float64(rate) * d.Seconds())
	t := httpload.OpenLoop(rate, d, grace, workers, op)
	return result{name: name, target: float64(rate), scheduled: n, elapsed: d,
		latencies: t.Latencies, failures: t.Failed, missed: t.Missed, first: t.First}
}

// closedLoop runs clients that each send the next request as soon as the
// last one is answered, for d: the throughput at saturation (latencies are
// service times under that load).
func closedLoop(name string, clients int, d time.Duration, op func(w, i int) error) result {
	var (
		mu    sync.Mutex
		res   = result{name: name}
		seq   atomic.Int64
		wg    sync.WaitGroup
		first atomic.Value
	)
	start := time.Now()
	end := start.Add(d)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			fails := 0
			for time.Now().Before(end) {
				t0 := time.Now()
				if err := op(w, int(seq.Add(1))); err != nil {
					fails++
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.failures += fails
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.scheduled = res.done() + res.failures
	slices.Sort(res.latencies)
	if e := first.Load(); e != nil {
		res.first = e.(string)
	}
	return res
}
