//go:build unix

package linear

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) this process has used, which
// on a shared machine says more than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
