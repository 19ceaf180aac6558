package main

import (
	"math"
	"testing"
	"time"
)

// TestOpenLoopCountsStalls: a stall of the server counts against every
// request it delayed (their latency runs from when they were due), not
// only against the one that stalled, as a closed loop would count it.
func TestOpenLoopCountsStalls(t *testing.T) {
	const rate, stall = 1000, 300 * time.Millisecond
	r := openLoop("stall", rate, time.Second, time.Second, 1, func(_, i int) error {
		if i == 100 {
			time.Sleep(stall) // the server stalls once
		}
		return nil
	})
	if r.done() != rate || r.failures != 0 || r.missed != 0 {
		t.Fatalf("%d answered, %d failed, %d missed", r.done(), r.failures, r.missed)
	}
	slow := 0
	for _, l := range r.latencies {
		if l > stall/3 {
			slow++
		}
	}
	// The ~300 requests due during the stall waited for it.
	if slow < 150 {
		t.Errorf("%d requests slower than %v, want the ~%d the stall delayed", slow, stall/3, int(stall.Seconds()*rate))
	}
	if p := r.pct(0.99); p < stall/3 {
		t.Errorf("p99 %v hides the stall", p)
	}
}

// TestPercentileCountsMissedAndFailed: a request never answered is slower
// than any answer.
func TestPercentileCountsMissedAndFailed(t *testing.T) {
	r := result{latencies: []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	if p := r.pct(0.5); p != 5 {
		t.Errorf("p50 %v", p)
	}
	r.missed, r.failures = 8, 2 // 10 of 20 unanswered
	if p := r.pct(0.5); p != 10 {
		t.Errorf("p50 with half unanswered: %v, want the slowest answer", p)
	}
	if p := r.pct(0.51); p != time.Duration(math.MaxInt64) || fmtDur(p) != "inf" {
		t.Errorf("p51 with half unanswered: %v, want inf", p)
	}
}
