package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The CPU time spent by the processes of a scenario, divided by the
// requests answered, is a figure the other work on a shared machine does
// not distort the way it distorts latencies: it says how much of the two
// cores 2,000 requests a second take.

const clockTick = 100 // USER_HZ, the unit of /proc/<pid>/stat's times on Linux

// procCPU is the user+system CPU time of the processes whose process group
// is pgid, or (pgid 0) whose command is comm, from /proc.
func procCPU(pgid int, comm string) time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		name := s[open+1 : close]
		f := strings.Fields(s[close+1:])
		// f[0] is the state (field 3): pgrp is field 5, utime 14, stime 15.
		if len(f) < 13 {
			continue
		}
		if pgid != 0 {
			if g, _ := strconv.Atoi(f[2]); g != pgid {
				continue
			}
		} else if name != comm {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * time.Second / clockTick
}

// selfCPU is this process's CPU time: the load generator's.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter measures the CPU time of the server's processes, Redis and the
// generator over a scenario.
type cpuMeter struct {
	serverPgid         int
	server, redis, gen time.Duration
}

func startCPU(serverPgid int) cpuMeter {
	return cpuMeter{serverPgid: serverPgid, server: procCPU(serverPgid, ""), redis: procCPU(0, "redis-server"), gen: selfCPU()}
}

// perRequest is the CPU time per answered request of the server, Redis
// and the generator since start.
func (m cpuMeter) perRequest(n int) [3]time.Duration {
	if n == 0 {
		return [3]time.Duration{}
	}
	d := time.Duration(n)
	var out [3]time.Duration
	if m.serverPgid != 0 {
		out[0] = (procCPU(m.serverPgid, "") - m.server) / d
	}
	out[1] = (procCPU(0, "redis-server") - m.redis) / d
	out[2] = (selfCPU() - m.gen) / d
	return out
}

// loadAverage is the machine's 1-minute load average (runnable threads,
// everyone's): above 2 on two cores, requests wait for a core.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
