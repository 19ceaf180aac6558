package gbdt

import "sync"

// forEach calls fn(i) for i in [0, n) on up to workers goroutines, worker w
// taking i = w, w+workers, ...; it returns when all calls have returned.
// Every i is handled by exactly one call, so results do not depend on the
// number of workers.
func forEach(workers, n int, fn func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i += workers {
		fn(i)
	}
	wg.Wait()
}

// forRange splits [0, n) into up to workers contiguous ranges and calls
// fn(lo, hi) for each on its own goroutine. fn must write only to its own
// range.
func forRange(workers, n int, fn func(lo, hi int)) {
	const minChunk = 4096
	workers = min(workers, (n+minChunk-1)/minChunk)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w*n/workers, (w+1)*n/workers)
		}()
	}
	fn(0, n/workers)
	wg.Wait()
}
