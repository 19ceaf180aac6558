package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/httpload"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/tiles"
)

// The load of BenchmarkOnlineLoad comes from a child process (this test
// binary again, with loadChildEnv naming a loadSpec file), for every
// scenario alike: the servers measured (the read API, the empty handler,
// Feast, Redis) do not share the generator's process, its GC or its
// profile, and each side's CPU time is measured apart.
const loadChildEnv = "TRIBUTARY_FEATURES_BENCH_LOAD_CHILD"

// loadSpec is what a child generator runs.
type loadSpec struct {
	// Kind: "http" (POST Path with Bodies[i] to Addr), "redis_flat" (HMGET
	// Fields of Keys[i]) or "redis_tiles" (HMGET of the tile fields a read
	// of View needs now, of its key for Entities[i]).
	Kind      string
	Addr      string
	Path      string
	Bodies    [][]byte
	RedisAddr string
	Keys      []string
	Fields    []string
	View      featurespec.View
	Prefix    string
	Entities  []string
	// Clients > 0: a closed loop of that many clients; otherwise an open
	// loop of Rate requests a second from Workers workers.
	Clients  int
	Rate     int
	Workers  int
	Duration time.Duration
}

// loadOutcome is what a child reports.
type loadOutcome struct {
	Requests  int // answered
	Failures  int
	Missed    int // open loop: scheduled, never sent
	Elapsed   time.Duration
	P50, P99  time.Duration // math.MaxInt64: more than 1% failed or missed
	First     string
	ClientCPU time.Duration
}

// runLoadChild is the child process: it reads the spec, warms up for half a
// second (connections made), prints "start", runs the load and prints
// "result " and the outcome as JSON.
func runLoadChild(path string) int {
	if err := loadChild(path, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load generator:", err)
		return 1
	}
	return 0
}

func loadChild(path string, out io.Writer) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the spec: %w", err)
	}
	var s loadSpec
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("decode the spec: %w", err)
	}
	workers := max(s.Clients, s.Workers)
	op, closeOp, err := s.op(workers)
	if err != nil {
		return err
	}
	defer closeOp()
	closedLoop(workers, 500*time.Millisecond, op) // warm-up
	if _, err := fmt.Fprintln(out, "start"); err != nil {
		return err
	}
	cpu0 := selfCPU()
	var res loadOutcome
	if s.Clients > 0 {
		res = closedLoop(s.Clients, s.Duration, op)
	} else {
		res = openLoop(s.Rate, s.Duration, 2*time.Second, s.Workers, op)
	}
	res.ClientCPU = selfCPU() - cpu0
	b, _ := json.Marshal(res)
	_, err = fmt.Fprintf(out, "result %s\n", b)
	return err
}

// op returns the call of worker w for request i.
func (s loadSpec) op(workers int) (func(w, i int) error, func(), error) {
	ctx := context.Background()
	switch s.Kind {
	case "http":
		cs := make([]*httpload.Conn, workers)
		for i := range cs {
			cs[i] = &httpload.Conn{Addr: s.Addr}
		}
		return func(w, i int) error { return cs[w].Post(s.Path, s.Bodies[i%len(s.Bodies)]) }, func() {
			for _, c := range cs {
				c.Close()
			}
		}, nil
	case "redis_flat", "redis_tiles":
		rdb := redis.NewClient(&redis.Options{Addr: s.RedisAddr, PoolSize: max(64, workers)})
		if s.Kind == "redis_flat" {
			return func(_, i int) error { return rdb.HMGet(ctx, s.Keys[i%len(s.Keys)], s.Fields...).Err() }, func() { _ = rdb.Close() }, nil
		}
		plan := tiles.Compile(s.View)
		return func(_, i int) error {
			return rdb.HMGet(ctx, tiles.Key(s.Prefix, plan, s.Entities[i%len(s.Entities)]), plan.ReadFields(time.Now().UnixMilli())...).Err()
		}, func() { _ = rdb.Close() }, nil
	}
	return nil, nil, fmt.Errorf("kind %q is none of http, redis_flat, redis_tiles", s.Kind)
}

// closedLoop runs clients that each send the next request as soon as the
// last one is answered, for d; client w starts at request w*7919.
func closedLoop(clients int, d time.Duration, op func(w, i int) error) loadOutcome {
	var (
		mu    sync.Mutex
		lat   []time.Duration
		fails int
		first atomic.Value
		wg    sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1<<14)
			n := 0
			for i := w * 7919; time.Now().Before(end); i++ {
				t0 := time.Now()
				if err := op(w, i); err != nil {
					n++
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			fails += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return outcome(lat, fails, 0, time.Since(start), &first)
}

// openLoop runs httpload.OpenLoop: a request not sent within grace after
// the run's end is missed.
func openLoop(rate int, d, grace time.Duration, workers int, op func(w, i int) error) loadOutcome {
	t := httpload.OpenLoop(rate, d, grace, workers, op)
	var first atomic.Value
	if t.First != "" {
		first.Store(t.First)
	}
	return outcome(t.Latencies, t.Failed, t.Missed, d, &first)
}

// outcome takes the quantiles over every request, a failed or missed one
// counting as slower than any answer.
func outcome(lat []time.Duration, fails, missed int, elapsed time.Duration, first *atomic.Value) loadOutcome {
	slices.Sort(lat)
	r := loadOutcome{Requests: len(lat), Failures: fails, Missed: missed, Elapsed: elapsed}
	if e := first.Load(); e != nil {
		r.First = e.(string)
	}
	pct := func(p float64) time.Duration {
		n := len(lat) + fails + missed
		i := int(math.Ceil(p*float64(n))) - 1
		if n == 0 {
			return 0
		}
		if i >= len(lat) {
			return time.Duration(math.MaxInt64)
		}
		return lat[max(i, 0)]
	}
	r.P50, r.P99 = pct(0.50), pct(0.99)
	return r
}

// childResult is a scenario's figures: the child's outcome and the CPU time
// and allocations of the processes serving it, per answered request.
type childResult struct {
	loadOutcome
	rps                 float64
	serverCPU, redisCPU time.Duration // per request
	clientCPU           time.Duration // per request
	allocs              float64       // this process's allocations per request
}

// cpuOf is where a scenario's server runs, to measure its CPU time: this
// process (self), a process group (pgid), or nothing (Redis alone).
type cpuOf struct {
	self bool
	pgid int
}

func (c cpuOf) read() time.Duration {
	switch {
	case c.self:
		return selfCPU()
	case c.pgid != 0:
		return groupCPU(c.pgid)
	}
	return 0
}

// runChild runs spec from a child process and measures, between its
// "start" and "result" lines, the CPU time of the server (where), of the
// private Redis (redisPid) and the allocations of this process.
func runChild(t testing.TB, spec loadSpec, where cpuOf, redisPid int) childResult {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), loadChildEnv+"="+path)
	var stderr testkit.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the load generator: %v", err)
	}
	var (
		res            childResult
		srv0, rds0     time.Duration
		ms0, ms1       runtime.MemStats
		started, ended bool
	)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "start":
			runtime.ReadMemStats(&ms0)
			srv0, rds0, started = where.read(), procCPU(redisPid), true
		case started && !ended && strings.HasPrefix(line, "result "):
			srv, rds := where.read()-srv0, procCPU(redisPid)-rds0
			runtime.ReadMemStats(&ms1)
			if err := json.Unmarshal([]byte(line[len("result "):]), &res.loadOutcome); err != nil {
				t.Fatalf("load generator's result %q: %v", line, err)
			}
			if n := time.Duration(res.Requests); n > 0 {
				res.serverCPU, res.redisCPU, res.clientCPU = srv/n, rds/n, res.ClientCPU/n
				res.allocs = float64(ms1.Mallocs-ms0.Mallocs) / float64(n)
			}
			res.rps = float64(res.Requests) / res.Elapsed.Seconds()
			ended = true
		}
	}
	if err := cmd.Wait(); err != nil || !ended {
		t.Fatalf("load generator (%v, result %v): %s", err, ended, stderr.String())
	}
	return res
}

// selfCPU is this process's user and system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const clockTick = 100 // USER_HZ, the unit of /proc/<pid>/stat's times

// statCPU parses utime+stime and the process group of a /proc/<pid>/stat.
func statCPU(path string) (cpu time.Duration, pgrp int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, false
	}
	// f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
	pgrp, _ = strconv.Atoi(f[2])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / clockTick, pgrp, true
}

// procCPU is the CPU time of process pid (0: none).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	d, _, _ := statCPU(fmt.Sprintf("/proc/%d/stat", pid))
	return d
}

// groupCPU is the CPU time of the processes of process group pgid.
func groupCPU(pgid int) time.Duration {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var total time.Duration
	for _, p := range paths {
		if d, g, ok := statCPU(p); ok && g == pgid {
			total += d
		}
	}
	return total
}
