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
// is pgid, or (pgid 0) of the processes pids, from /proc.
func procCPU(pgid int, pids []string) time.Duration {
	var stats []string
	if pgid != 0 {
		stats, _ = filepath.Glob("/proc/[0-9]*/stat")
	} else {
		for _, p := range pids {
			stats = append(stats, "/proc/"+p+"/stat")
		}
	}
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
		f := strings.Fields(s[close+1:])
		// f[0] is the state (field 3): pgrp is field 5, utime 14, stime 15.
		if len(f) < 13 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); pgid != 0 && g != pgid {
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
	redisPids          []string
	server, redis, gen time.Duration
}

func startCPU(serverPgid int, redisPids []string) cpuMeter {
	m := cpuMeter{serverPgid: serverPgid, redisPids: redisPids, redis: procCPU(0, redisPids), gen: selfCPU()}
	if serverPgid != 0 {
		m.server = procCPU(serverPgid, nil)
	}
	return m
}

// redisServers are the pids of the redis-server processes whose command
// line names the port of addr (the one the benchmark reads; other
// redis-servers may run on the machine).
func redisServers(addr string) []string {
	_, port, _ := strings.Cut(addr, ":")
	var pids []string
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, "redis-server") && strings.Contains(cmd, ":"+port) {
			pids = append(pids, strings.Split(path, "/")[2])
		}
	}
	return pids
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
		out[0] = (procCPU(m.serverPgid, nil) - m.server) / d
	}
	out[1] = (procCPU(0, m.redisPids) - m.redis) / d
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
