package intake

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// loopCPU runs b.Loop over fn on one OS thread and reports the thread's
// CPU time an operation (cpu-ns/op) beside the wall time: on a machine
// shared with other work the wall time also counts the waits for a core,
// the thread's CPU time does not (the garbage collector's background
// workers run on other threads and are not counted; its assists are).
func loopCPU(b *testing.B, fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	n := 0
	for b.Loop() {
		fn()
		n++
	}
	b.ReportMetric(float64(threadCPU()-start)/float64(n), "cpu-ns/op")
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
