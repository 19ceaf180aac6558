package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/features/internal/api"
	"github.com/tributary-ml/tributary/services/features/internal/offline"
)

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	return d[len(d)/2], d[min(len(d)-1, int(math.Ceil(float64(len(d))*0.99))-1)]
}

func report(b *testing.B, name string, d []time.Duration, total time.Duration) {
	p50, p99 := percentiles(d)
	b.ReportMetric(float64(p50.Microseconds()), name+"_p50_µs")
	b.ReportMetric(float64(p99.Microseconds()), name+"_p99_µs")
	b.ReportMetric(float64(len(d))/total.Seconds(), name+"_reads/s")
}

// BenchmarkOnlineRead reads 1 entity × 20 features and 100 entities × 20
// features through the HTTP API, through tiles.Store (the library serving
// uses, without HTTP) and as raw pipelined HMGETs of the same keys and
// fields with go-redis (the limit), in the same run.
func BenchmarkOnlineRead(b *testing.B) {
	h := newHarness(b)
	p := h.start()
	h.apply()
	waitView(b, p)
	users := make([]string, 100)
	for i := range users {
		users[i] = fmt.Sprintf("user-%02d", i)
	}
	h.users = users
	now := time.Now()
	h.produce(h.randomClicks(rand.New(rand.NewPCG(1, 1)), 20000, now.Add(-2*time.Hour), now))
	h.caughtUp(2 * time.Minute)
	rdb := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr(b)})
	defer rdb.Close()
	store := tiles.NewStore(rdb, h.prefix)
	plan := tiles.Compile(h.view)
	client := &http.Client{}
	for _, n := range []int{1, 100} {
		rounds := map[int]int{1: 2000, 100: 200}[n]
		ents := users[:n]
		body, _ := json.Marshal(api.Request{Entities: ents, Features: h.refs})
		b.Run(fmt.Sprintf("%dx20", n), func(b *testing.B) {
			var apiD, storeD, rawD []time.Duration
			var apiT, storeT, rawT time.Duration
			for range b.N {
				apiD, storeD, rawD = nil, nil, nil
				apiT, storeT, rawT = 0, 0, 0
				for range rounds {
					t0 := time.Now()
					resp, err := client.Post(p.URL+"/v1/features", "application/json", bytes.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("status %d", resp.StatusCode)
					}
					d := time.Since(t0)
					apiD, apiT = append(apiD, d), apiT+d

					t0 = time.Now()
					if _, err := store.Read(context.Background(), plan, ents, time.Now().UnixMilli()); err != nil {
						b.Fatal(err)
					}
					d = time.Since(t0)
					storeD, storeT = append(storeD, d), storeT+d

					t0 = time.Now()
					fields := plan.ReadFields(time.Now().UnixMilli())
					_, err = rdb.Pipelined(context.Background(), func(pipe redis.Pipeliner) error {
						for _, e := range ents {
							pipe.HMGet(context.Background(), store.Key(plan, e), fields...)
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
					d = time.Since(t0)
					rawD, rawT = append(rawD, d), rawT+d
				}
			}
			report(b, "api", apiD, apiT)
			report(b, "store", storeD, storeT)
			report(b, "raw_redis", rawD, rawT)
			_, a99 := percentiles(apiD)
			_, s99 := percentiles(storeD)
			_, r99 := percentiles(rawD)
			b.ReportMetric(float64(a99)/float64(r99), "api_p99/raw_p99")
			b.ReportMetric(float64(s99)/float64(r99), "store_p99/raw_p99")
		})
	}
}

// BenchmarkFreshness produces a steady 5,000 clicks/s to Kafka and, every
// 20ms, one probe click for a dedicated user; it measures from the probe's
// acknowledgement by Kafka (where ingest acknowledges its producer) to the
// probe being counted by the read API.
func BenchmarkFreshness(b *testing.B) {
	h := newHarness(b)
	p := h.start()
	h.apply()
	waitView(b, p)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // background load: 5,000 events/s in 10ms steps of 50
		defer wg.Done()
		r := rand.New(rand.NewPCG(2, 2))
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			recs := make([]*kgo.Record, 50)
			for i := range recs {
				u := h.users[r.IntN(len(h.users))]
				recs[i] = h.record(h.prefix+event.EventsTopic("clicks"), fmt.Sprintf("load-%d-%d", time.Now().UnixNano(), i), u, "com.example.shop.click.v1",
					map[string]any{"user_id": u, "item_id": "i", "clicked_at": time.Now().UTC().Format(time.RFC3339Nano), "price": 1.0, "page": "home"})
			}
			for _, rec := range recs {
				h.kafka.Produce(ctx, rec, nil)
			}
		}
	}()
	var lat []time.Duration
	probes := max(100, b.N)
	count := 0
	for i := range probes {
		rec := h.record(h.prefix+event.EventsTopic("clicks"), fmt.Sprintf("probe-%d", i), "probe", "com.example.shop.click.v1",
			map[string]any{"user_id": "probe", "item_id": "i", "clicked_at": time.Now().UTC().Format(time.RFC3339Nano), "price": 1.0, "page": "home"})
		if err := h.kafka.ProduceSync(ctx, rec).FirstErr(); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		count++
		// A measuring loop, not a wait: it reads every millisecond, the
		// resolution of the freshness figure. testkit.Poll backs off from
		// 5ms to 200ms, which would add up to its interval to each sample.
		deadline := acked.Add(10 * time.Second)
		for {
			resp, err := http.Get(p.URL + "/v1/features/uc/probe")
			if err != nil {
				b.Fatal(err)
			}
			var v api.ViewResponse
			dec := json.NewDecoder(resp.Body)
			dec.UseNumber()
			_ = dec.Decode(&v)
			resp.Body.Close()
			if n, ok := v.Values["clicks_1d"].Value.(json.Number); ok && n.String() == strconv.Itoa(count) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("probe %d not visible within 10s", i)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(acked))
		time.Sleep(20 * time.Millisecond) // pacing between probes, not a wait for a condition
	}
	cancel()
	wg.Wait()
	p50, p99 := percentiles(lat)
	b.ReportMetric(float64(p50.Microseconds())/1000, "fresh_p50_ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "fresh_p99_ms")
}

// BenchmarkMaterializer produces 100,000 clicks of 1,000 users as fast as
// Kafka takes them and measures until the materializer committed them all
// (ClickHouse, Redis, offsets).
func BenchmarkMaterializer(b *testing.B) {
	h := newHarness(b)
	p := h.start()
	_ = p
	h.apply()
	waitView(b, p)
	h.users = make([]string, 1000)
	for i := range h.users {
		h.users[i] = fmt.Sprintf("user-%04d", i)
	}
	const n = 100000
	now := time.Now()
	clicks := h.randomClicks(rand.New(rand.NewPCG(3, 3)), n, now.Add(-time.Hour), now)
	start := time.Now()
	h.produce(clicks)
	produced := time.Since(start)
	h.caughtUp(5 * time.Minute)
	d := time.Since(start)
	b.ReportMetric(n/d.Seconds(), "events/s")
	b.ReportMetric(n/produced.Seconds(), "produce_events/s")
}

// BenchmarkTrainingSet computes a training set of TRIBUTARY_BENCH_LABELS
// labels (default 200,000; the figure is 1,000,000) over 10,000
// users with 20 clicks each, straight from ClickHouse with the builder's code
// (offline.Store.Compute and WriteParquet), and reports rows/s.
func BenchmarkTrainingSet(b *testing.B) {
	h := newHarness(b)
	p := h.start()
	h.apply()
	waitView(b, p)
	labels := 200000
	if v, err := strconv.Atoi(os.Getenv("TRIBUTARY_BENCH_LABELS")); err == nil && v > 0 {
		labels = v
	}
	const users = 10000
	conn, err := chx.Open(chx.Config{Addr: testkit.ClickHouseAddr(b), Database: h.db, Username: "default", DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	st := offline.NewStore(conn, h.db)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(4, 4))
	t0 := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	var evs []offline.EventRow
	for u := range users {
		for i := range 20 {
			at := t0.Add(time.Duration(r.Int64N(int64(23 * time.Hour))))
			data, _ := json.Marshal(map[string]any{"user_id": fmt.Sprint(u), "item_id": fmt.Sprint(r.IntN(50)), "clicked_at": at.Format(time.RFC3339Nano), "price": float64(r.IntN(10000)) / 100, "page": "cart"})
			evs = append(evs, offline.EventRow{Stream: "clicks", EventID: fmt.Sprintf("%d-%d", u, i), Source: "/bench", Type: "t", EntityKey: fmt.Sprint(u), EventTime: at, IngestTime: at, Partition: 0, Offset: int64(u*20 + i), Data: string(data)})
		}
	}
	if err := st.InsertEvents(ctx, evs); err != nil {
		b.Fatal(err)
	}
	rows := make([]offline.Label, labels)
	for i := range rows {
		rows[i] = offline.Label{EntityKey: fmt.Sprint(r.IntN(users)), TimeMs: t0.Add(time.Duration(r.Int64N(int64(24 * time.Hour)))).UnixMilli(), Value: 1}
	}
	refs, err := offline.ResolveRefs(lookupPlan{tiles.Compile(h.view)}, h.refs)
	if err != nil {
		b.Fatal(err)
	}
	ents := map[string]bool{}
	var entList []string
	for _, r := range rows {
		if !ents[r.EntityKey] {
			ents[r.EntityKey] = true
			entList = append(entList, r.EntityKey)
		}
	}
	start := time.Now()
	if _, err := st.Events(ctx, "clicks", entList); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "read_events_s")
	start = time.Now()
	set, err := st.Compute(ctx, refs, rows)
	if err != nil {
		b.Fatal(err)
	}
	computed := time.Since(start)
	if err := set.WriteParquet(io.Discard); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	b.ReportMetric(float64(labels)/d.Seconds(), "rows/s")
	b.ReportMetric(float64(labels)/computed.Seconds(), "compute_rows/s")
	b.ReportMetric(float64(labels), "labels")
}

type lookupPlan struct{ p *tiles.Plan }

func (l lookupPlan) View(name string) (*tiles.Plan, bool) { return l.p, name == l.p.View.Name }
