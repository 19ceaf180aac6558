package tiles_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/tiles"
)

func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	addr := testkit.RedisAddr(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s (TRIBUTARY_REDIS_ADDR) unreachable: %v", addr, err)
	}
	return rdb
}

// TestStore applies events per entity in batches through Redis, replays a
// part of them, and reads back values equal to the offline computation.
func TestStore(t *testing.T) {
	rdb := redisClient(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("test-%d-", time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	st := tiles.NewStore(rdb, prefix)
	p := plan(t)
	r := rand.New(rand.NewPCG(11, 12))
	entities := []string{"u1", "u2", "u:3"}
	all := map[string][]tiles.Event{}
	for _, e := range entities {
		all[e] = events(r, 600, int64(3*24*time.Hour/time.Millisecond), int64(time.Hour/time.Millisecond))
	}
	apply := func(from, to int) {
		var ups []*tiles.Update
		for _, e := range entities {
			ups = append(ups, &tiles.Update{Plan: p, Entity: e, Events: all[e][from:to]})
		}
		if err := st.Apply(ctx, ups, T0); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 600; i += 50 {
		apply(i, i+50)
	}
	apply(300, 600) // a replay
	up := &tiles.Update{Plan: p, Entity: "u1", Events: all["u1"][590:600]}
	if err := st.Apply(ctx, []*tiles.Update{up}, T0); err != nil {
		t.Fatal(err)
	}
	if want := build(p, all["u1"], T0).Newest; up.Newest != want {
		t.Errorf("Update.Newest after a replay %d, want the state's %d", up.Newest, want)
	}
	got, err := st.Read(ctx, p, append(slices.Clone(entities), "nobody"), T0)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entities {
		want := p.Read(build(p, all[e], T0), T0)
		if !slices.Equal(got[i], want) {
			t.Errorf("entity %s:\n got %v\nwant %v", e, got[i], want)
		}
	}
	for _, v := range got[3] {
		if v.V != nil {
			t.Errorf("unknown entity: %v", got[3])
		}
	}
	// ReadEach at one instant per entity equals Read at that instant.
	instants := []int64{T0, T0 - int64(time.Hour/time.Millisecond), T0 - int64(30*time.Second/time.Millisecond)}
	each, err := st.ReadEach(ctx, p, entities, instants)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entities {
		one, err := st.Read(ctx, p, []string{e}, instants[i])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(each[i], one[0]) {
			t.Errorf("ReadEach of %s at %d:\n got %v\nwant %v", e, instants[i], each[i], one[0])
		}
	}
	// ReadViews of several queries (here the same view twice, different
	// entities) in one round trip equals Read of each.
	views, err := st.ReadViews(ctx, []tiles.Query{{Plan: p, Entities: entities[:2]}, {Plan: p, Entities: []string{entities[2], "nobody"}}}, T0)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || !slices.Equal(views[0][0], got[0]) || !slices.Equal(views[0][1], got[1]) || !slices.Equal(views[1][0], got[2]) || !slices.Equal(views[1][1], got[3]) {
		t.Errorf("ReadViews differs from Read: %v", views)
	}
	if _, err := st.ReadEach(ctx, p, entities, instants[:1]); err == nil {
		t.Error("ReadEach with fewer instants than entities: no error")
	}
	// Old tiles are pruned: no tile older than the retention of its level.
	names, err := rdb.HKeys(ctx, st.Key(p, "u1")).Result()
	if err != nil {
		t.Fatal(err)
	}
	ref := min(T0, build(p, all["u1"], T0).Newest)
	for _, n := range names {
		if k, ok := tiles.ParseTileField(n); ok && k.End() <= ref-p.Retention(k.Level) {
			t.Errorf("tile %s kept past its retention", n)
		}
	}
	if ttl := rdb.PTTL(ctx, st.Key(p, "u1")).Val(); ttl <= 0 || ttl > 10*24*time.Hour {
		t.Errorf("key TTL %v", ttl)
	}
	t.Logf("%d fields in one entity's hash", len(names))
	// A corrupt tile in a read's cover is an error, not a wrong value.
	field := p.ReadFields(T0)[1]
	if err := rdb.HSet(ctx, st.Key(p, "u2"), field, "\xff\xff").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Read(ctx, p, []string{"u2"}, T0); !errors.Is(err, tiles.ErrCorrupt) {
		t.Errorf("corrupt tile %s: %v", field, err)
	}
}

// TestReadFieldsCache: the field lists and covers reused within a 10s tile
// are those computed afresh, at every instant.
func TestReadFieldsCache(t *testing.T) {
	p := plan(t)
	fresh := tiles.Compile(p.View)
	r := rand.New(rand.NewPCG(3, 4))
	at := T0
	for range 2000 {
		at += r.Int64N(7000)
		got := p.ReadFields(at)
		want := tiles.Compile(fresh.View).ReadFields(at)
		if !slices.Equal(got, want) {
			t.Fatalf("at %d: cached %v, fresh %v", at, got, want)
		}
		_ = append(got, "x") // must not corrupt the cache
	}
}

// TestStoreReadRESP2: a Store over a RESP2 connection (Redis before 6, or
// a client set to protocol 2) reads what one over RESP3 reads, through
// the coalescer too, and so does one over another redis.UniversalClient
// than a *redis.Client (whose replies go-redis parses); a key of another
// type fails the read with Redis's error.
func TestStoreReadRESP2(t *testing.T) {
	rdb := redisClient(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("test-resp2-%d-", time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	p := plan(t)
	evs := events(rand.New(rand.NewPCG(41, 42)), 400, int64(2*24*time.Hour/time.Millisecond), int64(time.Hour/time.Millisecond))
	if err := tiles.NewStore(rdb, prefix).Apply(ctx, []*tiles.Update{{Plan: p, Entity: "a", Events: evs}}, T0); err != nil {
		t.Fatal(err)
	}
	want := p.Read(build(p, evs, T0), T0)
	resp2 := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr(t), Protocol: 2})
	t.Cleanup(func() { _ = resp2.Close() })
	other := universal{rdb}
	stores := []*tiles.Store{
		tiles.NewStore(resp2, prefix), tiles.NewStore(resp2, prefix, tiles.Coalesce()), tiles.NewStore(rdb, prefix),
		tiles.NewStore(other, prefix), tiles.NewStore(other, prefix, tiles.Coalesce()),
	}
	for i, st := range stores {
		got, err := st.Read(ctx, p, []string{"a", "nobody"}, T0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[0], want) || !slices.Equal(got[1], p.Read(nil, T0)) {
			t.Errorf("store %d: got %v, want %v and nulls", i, got, want)
		}
		got, err = st.ReadEach(ctx, p, []string{"a"}, []int64{T0})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[0], want) {
			t.Errorf("store %d, ReadEach: got %v, want %v", i, got[0], want)
		}
		// One entity alone: the coalescer's path.
		got, err = st.Read(ctx, p, []string{"a"}, T0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[0], want) {
			t.Errorf("store %d, one entity: got %v, want %v", i, got[0], want)
		}
	}
	if err := rdb.Set(ctx, tiles.Key(prefix, p, "s"), "a string", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*tiles.Store{tiles.NewStore(resp2, prefix, tiles.Coalesce()), tiles.NewStore(rdb, prefix), tiles.NewStore(other, prefix)} {
		if _, err := st.Read(ctx, p, []string{"s"}, T0); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
			t.Errorf("read of a string key: error %v, want WRONGTYPE", err)
		}
	}
}

// universal is a redis.UniversalClient other than a *redis.Client.
type universal struct{ *redis.Client }
