package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/linear"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/libs/tiles"
	"github.com/tributary-ml/tributary/services/serving/internal/models"
	"github.com/tributary-ml/tributary/services/serving/internal/online"
)

const benchSpec = `
entities: [{name: user}]
sources:
  - {name: s, stream: s, entity_key: /user_id, fields: {x: number}}
views:
  - name: bench
    entity: user
    source: s
    ttl: 8d
    lateness: 2h
    features:
      - {name: c, agg: count, windows: [5m, 1h, 1d, 7d]}
      - {name: sum, agg: sum, field: x, windows: [5m, 1h, 1d, 7d]}
      - {name: mean, agg: mean, field: x, windows: [5m, 1h, 1d, 7d]}
      - {name: min, agg: min, field: x, windows: [5m, 1h, 1d, 7d]}
      - {name: max, agg: max, field: x, windows: [5m, 1h, 1d, 7d]}
`

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// paced sends rate requests per second for d from a pool of workers (an
// open loop: latency runs from each request's scheduled instant, so a
// stall counts against every request it delays).
func paced(rate int, d time.Duration, workers int, fn func() error) (lat []time.Duration, errs int, took time.Duration) {
	total := int(float64(rate) * d.Seconds())
	jobs := make(chan time.Time, total)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for due := range jobs {
				err := fn()
				l := time.Since(due)
				mu.Lock()
				lat = append(lat, l)
				if err != nil {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w) // pacing the load generator, not polling
		}
		jobs <- due
	}
	close(jobs)
	wg.Wait()
	return lat, errs, time.Since(start)
}

func pct(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, int(math.Ceil(float64(len(d))*p))-1)]
}

// BenchmarkPredictLoad drives POST /v1/predict (1 entity × 20 online
// features from the real Redis, a 20-feature model) at
// TRIBUTARY_BENCH_RATE predictions/s (2000) for TRIBUTARY_BENCH_SECONDS
// (5), beside raw pipelined go-redis HMGETs of the same keys and fields
// and an empty net/http handler, at the same rate. Run with -benchtime=1x.
func BenchmarkPredictLoad(b *testing.B) {
	addr := testkit.RedisAddr(b)
	rate, secs := envInt("TRIBUTARY_BENCH_RATE", 2000), envInt("TRIBUTARY_BENCH_SECONDS", 5)
	views, err := featurespec.Parse([]byte(benchSpec))
	if err != nil {
		b.Fatal(err)
	}
	view := views[0]
	plan := tiles.Compile(view)
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64})
	defer rdb.Close()
	prefix := fmt.Sprintf("bench-%d-", time.Now().UnixNano())
	store := tiles.NewStore(rdb, prefix)
	ctx := context.Background()
	now := time.Now()
	r := rand.New(rand.NewPCG(1, 2))
	const entities = 1000
	keys := make([]string, entities)
	var ups []*tiles.Update
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%04d", i)
		u := &tiles.Update{Plan: plan, Entity: keys[i]}
		for j := range 100 {
			u.Events = append(u.Events, tiles.Event{Time: now.Add(-2*time.Hour + time.Duration(j)*72*time.Second).UnixMilli(),
				Seq: tiles.Seq{Offset: int64(j)}, Fields: map[string]any{"x": r.Float64() * 100}})
		}
		ups = append(ups, u)
		if len(ups) == 100 {
			if err := store.Apply(ctx, ups, now.UnixMilli()); err != nil {
				b.Fatal(err)
			}
			ups = nil
		}
	}
	defer func() {
		ks, _ := rdb.Keys(ctx, prefix+"*").Result()
		for len(ks) > 0 {
			n := min(len(ks), 500)
			rdb.Del(ctx, ks[:n]...)
			ks = ks[n:]
		}
	}()
	refs := make([]string, len(view.Features))
	names := make([]string, len(view.Features))
	for i, f := range view.Features {
		refs[i], names[i] = view.Ref(f), f.Name
	}
	d := &learn.Dataset{Rows: 50, Cols: len(refs), Features: names}
	for i := range d.Rows {
		for j := range d.Cols {
			d.X = append(d.X, float64((i*(j+1))%13))
		}
		d.Y = append(d.Y, float64(i%7))
	}
	m, err := linear.TrainRidge(ctx, d, linear.RidgeConfig{})
	if err != nil {
		b.Fatal(err)
	}
	l := models.NewLoaded("bench", 1, "tributary", refs, learn.TaskRegression, m)
	snap := &models.Snapshot{Models: map[string]*models.Model{"bench": {Name: "bench",
		Routes: map[string]*models.Route{AliasProduction: {Alias: AliasProduction, Model: l}}, Loaded: map[int]*models.Loaded{1: l},
		Known: map[int]model.Status{1: model.StatusActive}, Wanted: map[string]int{AliasProduction: 1}}}}
	fetch := online.NewFetcher(func(name string) (*tiles.Plan, bool) { return plan, name == view.Name }, store)
	a := New(Config{MaxInFlight: 1024}, func() *models.Snapshot { return snap }, func() bool { return true }, fetch, &memLog{}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	mux := http.NewServeMux()
	a.Register(mux.Handle)
	mux.HandleFunc("GET /empty", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}}
	pick := func() string { return keys[rand.IntN(entities)] }
	scenarios := []struct {
		name string
		fn   func() error
	}{
		{"predict", func() error {
			resp, err := client.Post(srv.URL+"/v1/predict/bench", "application/json", bytes.NewReader([]byte(`{"entities":["`+pick()+`"]}`)))
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}},
		{"raw_redis", func() error {
			fields := plan.ReadFields(time.Now().UnixMilli())
			_, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
				pipe.HMGet(ctx, store.Key(plan, pick()), fields...)
				return nil
			})
			return err
		}},
		{"empty_http", func() error {
			resp, err := client.Get(srv.URL + "/empty")
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}},
	}
	only := os.Getenv("TRIBUTARY_BENCH_ONLY") // one scenario, for profiles
	for range b.N {
		for _, s := range scenarios {
			if only != "" && s.name != only {
				continue
			}
			lat, errs, took := paced(rate, time.Duration(secs)*time.Second, 64, s.fn)
			if errs > 0 {
				b.Errorf("%s: %d of %d requests failed", s.name, errs, len(lat))
			}
			p50, p99 := pct(lat, 0.5), pct(lat, 0.99)
			b.ReportMetric(float64(len(lat))/took.Seconds(), s.name+"_per_s")
			b.ReportMetric(float64(p50.Microseconds()), s.name+"_p50_µs")
			b.ReportMetric(float64(p99.Microseconds()), s.name+"_p99_µs")
			fmt.Fprintf(os.Stderr, "%-10s %6.0f/s  p50 %7s  p99 %7s  errors %d\n", s.name, float64(len(lat))/took.Seconds(), p50.Round(time.Microsecond), p99.Round(time.Microsecond), errs)
		}
	}
}
