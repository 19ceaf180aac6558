package tiles_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/tiles"
)

// TestCoalescedReads: reads from many goroutines at once through a
// coalescing Store, of one entity or several, answer each what the offline
// computation answers, and a failing Redis fails every read without
// leaving one waiting.
func TestCoalescedReads(t *testing.T) {
	rdb := redisClient(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("test-coalesce-%d-", time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	p := plan(t)
	r := rand.New(rand.NewPCG(21, 22))
	entities := []string{"a", "b", "c", "d", "e", "f"}
	want := map[string][]tiles.Value{"nobody": p.Read(nil, T0)}
	var ups []*tiles.Update
	for _, e := range entities {
		evs := events(r, 300, int64(2*24*time.Hour/time.Millisecond), int64(time.Hour/time.Millisecond))
		ups = append(ups, &tiles.Update{Plan: p, Entity: e, Events: evs})
		want[e] = p.Read(build(p, evs, T0), T0)
	}
	if err := tiles.NewStore(rdb, prefix).Apply(ctx, ups, T0); err != nil {
		t.Fatal(err)
	}
	st := tiles.NewStore(rdb, prefix, tiles.Coalesce())
	names := append(slices.Clone(entities), "nobody")
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				// One entity mostly, two or three sometimes.
				n := 1 + (g+i)%7/5 + (g+i)%11/10
				read := make([]string, n)
				for j := range read {
					read[j] = names[(g*7+i*3+j)%len(names)]
				}
				got, err := st.Read(ctx, p, read, T0)
				if err != nil {
					errs <- err
					return
				}
				for j, e := range read {
					if !slices.Equal(got[j], want[e]) {
						errs <- fmt.Errorf("goroutine %d read %d, entity %s:\n got %v\nwant %v", g, i, e, got[j], want[e])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Nothing listens on the port: every read fails, none waits forever.
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer dead.Close()
	down := tiles.NewStore(dead, prefix, tiles.Coalesce())
	failed := make(chan error, 16)
	for range 16 {
		go func() {
			_, err := down.Read(ctx, p, []string{"a"}, T0)
			failed <- err
		}()
	}
	deadline := time.After(30 * time.Second)
	for range 16 {
		select {
		case err := <-failed:
			if err == nil {
				t.Error("read from a Redis that is down: no error")
			}
		case <-deadline:
			t.Fatal("reads from a Redis that is down still waiting after 30s")
		}
	}
}

// TestCoalescedReadsReconnect: a coalescing Store over a *redis.Client
// sends its batches over a connection of its own; a connection cut while
// idle fails no read (the batch goes again on a new one), a Redis that goes
// away fails the reads without leaving one waiting, and once it is back the
// reads succeed again. The Redis is a private redis-server, stopped and
// started again on the same port.
func TestCoalescedReadsReconnect(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("a private Redis is needed (deploy/local installs redis-server): %v", err)
	}
	port := strconv.Itoa(testkit.FreePort(t))
	dir := t.TempDir()
	var srv *exec.Cmd
	start := func() {
		t.Helper()
		srv = exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
		if err := srv.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
	}
	stop := func() { _ = srv.Process.Kill(); _ = srv.Wait() }
	start()
	t.Cleanup(func() { stop() })
	addr := "127.0.0.1:" + port
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = admin.Close() })
	ctx := context.Background()
	p := plan(t)
	r := rand.New(rand.NewPCG(31, 32))
	evs := events(r, 300, int64(2*24*time.Hour/time.Millisecond), int64(time.Hour/time.Millisecond))
	want := p.Read(build(p, evs, T0), T0)
	load := func() {
		t.Helper()
		testkit.EventuallyContext(t, 10*time.Second, func(ctx context.Context) error { return admin.Ping(ctx).Err() })
		if err := tiles.NewStore(admin, "", tiles.Coalesce()).Apply(ctx, []*tiles.Update{{Plan: p, Entity: "a", Events: evs}}, T0); err != nil {
			t.Fatal(err)
		}
	}
	load()

	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	st := tiles.NewStore(rdb, "", tiles.Coalesce())
	// reads reads entity a from 8 goroutines at once, 20 times each, and
	// returns the errors.
	reads := func() []error {
		var (
			mu   sync.Mutex
			errs []error
			wg   sync.WaitGroup
		)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					got, err := st.Read(ctx, p, []string{"a"}, T0)
					if err == nil && !slices.Equal(got[0], want) {
						err = fmt.Errorf("got %v, want %v", got[0], want)
					}
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		return errs
	}
	if errs := reads(); len(errs) > 0 {
		t.Fatalf("%d reads failed, the first: %v", len(errs), errs[0])
	}

	// Redis cuts the idle connection (as after a timeout): no read fails.
	if err := admin.ClientKillByFilter(ctx, "TYPE", "normal").Err(); err != nil {
		t.Fatal(err)
	}
	if errs := reads(); len(errs) > 0 {
		t.Fatalf("after the connection was cut: %d reads failed, the first: %v", len(errs), errs[0])
	}

	// Redis goes away: every read fails, none waits forever.
	stop()
	done := make(chan []error, 1)
	go func() { done <- reads() }()
	select {
	case errs := <-done:
		if len(errs) != 8*20 {
			t.Errorf("Redis down: %d reads of %d failed", len(errs), 8*20)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("reads from a Redis that is down still waiting after 60s")
	}

	// Redis is back (empty, loaded again): the reads succeed again, once
	// the client's pool dials again (after dial errors it waits for a
	// background dial to succeed).
	start()
	load()
	testkit.EventuallyContext(t, 20*time.Second, func(ctx context.Context) error {
		_, err := st.Read(ctx, p, []string{"a"}, T0)
		return err
	})
	if errs := reads(); len(errs) > 0 {
		t.Fatalf("Redis back: %d reads failed, the first: %v", len(errs), errs[0])
	}
}
