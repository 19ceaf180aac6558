package linear

import (
	"runtime"
	"sync"
)

// blockRows is the number of rows each partial sum covers. It is fixed, so
// sums are added in the same order whatever the number of workers, and
// results are the same bit for bit.
const blockRows = 8192

// blockSums runs fn over the rows of [0, rows) in blocks of blockRows on up
// to workers goroutines; fn adds its block's sums into acc (width values,
// zeroed before). It returns the block sums added up in block order into
// total.
func blockSums(rows, width, workers int, total []float64, fn func(lo, hi int, acc []float64)) {
	blocks := (rows + blockRows - 1) / blockRows
	partial := make([]float64, blocks*width)
	workers = max(1, min(workers, blocks))
	if workers == 1 {
		for b := range blocks {
			fn(b*blockRows, min(rows, (b+1)*blockRows), partial[b*width:(b+1)*width])
		}
	} else {
		var wg sync.WaitGroup
		next := make(chan int, blocks)
		for b := range blocks {
			next <- b
		}
		close(next)
		for range workers {
			wg.Go(func() {
				for b := range next {
					fn(b*blockRows, min(rows, (b+1)*blockRows), partial[b*width:(b+1)*width])
				}
			})
		}
		wg.Wait()
	}
	clear(total)
	for b := range blocks {
		for k, v := range partial[b*width : (b+1)*width] {
			total[k] += v
		}
	}
}

func defaultWorkers(w int) int {
	if w > 0 {
		return w
	}
	return runtime.GOMAXPROCS(0)
}
