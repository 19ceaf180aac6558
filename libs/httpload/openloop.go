package httpload

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Tally is what an open loop's requests came to.
type Tally struct {
	// Latencies are those of the requests answered, sorted, each from the
	// instant the request was due.
	Latencies []time.Duration
	// Failed are the requests whose op returned an error, Missed those not
	// sent by the run's end and its grace.
	Failed, Missed int
	// First is the first error's text.
	First string
}

// OpenLoop sends rate requests a second for d, each at its scheduled
// instant start+i/rate, from up to workers concurrent requests (an open
// loop, as wrk2): a request's latency runs from the instant it was due, so
// a stall of the server, or of the generator, counts against every request
// it delayed, and coordinated omission is avoided. Each worker takes the
// next request number and sleeps until it is due; there is no dispatcher to
// queue behind. A request still not sent grace after the run's end is
// missed. Worker w sends request i with op(w, i).
func OpenLoop(rate int, d, grace time.Duration, workers int, op func(w, i int) error) Tally {
	n := int(float64(rate) * d.Seconds())
	lat := make([]time.Duration, n)
	state := make([]uint8, n) // 0 missed, 1 ok, 2 failed
	var next atomic.Int64
	var first atomic.Value
	start := time.Now().Add(20 * time.Millisecond)
	interval := float64(time.Second) / float64(rate)
	deadline := start.Add(d + grace)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				due := start.Add(time.Duration(float64(i) * interval))
				if wait := time.Until(due); wait > 0 {
					time.Sleep(wait) // the schedule of an open loop, not a poll
				}
				if time.Now().After(deadline) {
					continue // missed
				}
				err := op(w, i)
				lat[i] = time.Since(due)
				if err != nil {
					state[i] = 2
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				state[i] = 1
			}
		}()
	}
	wg.Wait()
	var t Tally
	for i := range n {
		switch state[i] {
		case 0:
			t.Missed++
		case 1:
			t.Latencies = append(t.Latencies, lat[i])
		default:
			t.Failed++
		}
	}
	slices.Sort(t.Latencies)
	if e := first.Load(); e != nil {
		t.First = e.(string)
	}
	return t
}
