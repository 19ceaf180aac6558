package tiles_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
