// Command serving-bench measures the serving service as it runs: it builds
// the serving and registry binaries, starts them as processes of their own
// against the real local Kafka, NATS and Redis (the environment's
// TRIBUTARY_* addresses), applies a feature view of 20 features, writes
// 1000 entities' online state to Redis with libs/tiles, registers a
// logistic regression (the built-in learners' format) and a 500-tree
// LightGBM model on it, and drives them from this process with an
// open-loop, fixed-rate load generator (latency from each request's
// scheduled instant, so coordinated omission does not hide stalls):
//
//   - POST /v1/predict/{model}, 1 entity × 20 online features, for both
//     models;
//
//   - POST /v2/models/{gbdt}/infer (Open Inference Protocol, the features
//     sent), beside MLServer (mlserver and mlserver-lightgbm from PyPI, in
//     a virtual environment built from
//     deploy/local/python/bench-mlserver.txt) serving the same LightGBM
//     model, at the same rate and in a closed loop at saturation;
//
//   - the baselines, under the same generator: a raw pipelined go-redis
//     HMGET of the same keys and fields, and an empty net/http handler in
//     a process of its own.
//
//     go run ./services/serving/cmd/serving-bench -rate 2000 -duration 10s
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/linear"
	"github.com/tributary-ml/tributary/libs/learn/modelfile"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/tiles"
)

//go:embed testdata/gbdt500.txt.gz
var gbdtModel []byte

// The benchmark view: 5 aggregations × 4 windows = 20 features.
const benchSpec = `
entities: [{name: user}]
sources:
  - {name: s, stream: s, entity_key: /user_id, fields: {x: number}}
views:
  - name: VIEW
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

type options struct {
	rate       int
	duration   time.Duration
	warmup     time.Duration
	saturation time.Duration
	workers    int
	clients    int
	entities   int
	only       string
	mlserver   bool
	python     string
	redisAddr  string
	natsURL    string
	keepLogs   bool
	procs      int
}

func main() { os.Exit(realMain()) }

func realMain() int {
	var o options
	fs := flag.NewFlagSet("serving-bench", flag.ContinueOnError)
	fs.IntVar(&o.rate, "rate", 2000, "Requests per second of the open-loop scenarios.")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "How long each open-loop scenario is measured.")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "Load at the same rate before each scenario, not measured.")
	fs.DurationVar(&o.saturation, "saturation", 5*time.Second, "How long each closed-loop (saturation) scenario runs; 0: none.")
	fs.IntVar(&o.workers, "workers", 128, "Requests in flight at most in the open loop (the generator's connections).")
	fs.IntVar(&o.clients, "clients", 16, "Concurrent clients of the closed-loop scenarios.")
	fs.IntVar(&o.entities, "entities", 1000, "Entities written to Redis and picked at random by the requests.")
	fs.StringVar(&o.only, "only", "", "Run only the scenarios whose names contain this string (for profiles).")
	fs.BoolVar(&o.mlserver, "mlserver", true, "Run MLServer beside serving (skipped, saying why, when its virtual environment cannot be built).")
	fs.StringVar(&o.python, "mlserver.python", os.Getenv("TRIBUTARY_BENCH_MLSERVER_PYTHON"), "Python of a virtual environment with MLServer (default: built by deploy/local/pyenv.sh from deploy/local/python/bench-mlserver.txt).")
	fs.StringVar(&o.redisAddr, "redis.addr", envOr("TRIBUTARY_REDIS_ADDR", "127.0.0.1:6379"), "Redis address (also given to serving through the environment).")
	fs.StringVar(&o.natsURL, "nats.url", envOr("TRIBUTARY_NATS_URL", "nats://127.0.0.1:4222"), "NATS URL (also given to serving and the registry).")
	fs.BoolVar(&o.keepLogs, "keep-logs", false, "Keep the processes' logs (their directory is printed).")
	fs.IntVar(&o.procs, "procs", 0, "GOMAXPROCS of the load generator (this process; the servers keep theirs); 0: Go's default, the number of cores.")
	serveEmptyAddr := fs.String("serve-empty", "", "Internal: serve an empty net/http handler on this address until stdin closes.")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if *serveEmptyAddr != "" {
		if err := serveEmpty(*serveEmptyAddr); err != nil {
			fmt.Fprintln(os.Stderr, "serving-bench -serve-empty:", err)
			return 1
		}
		return 0
	}
	if o.rate < 1 || o.workers < 1 || o.clients < 1 || o.entities < 1 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "serving-bench: -rate, -workers, -clients, -entities and -duration must be positive")
		return 2
	}
	if o.procs > 0 {
		runtime.GOMAXPROCS(o.procs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "serving-bench:", err)
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// bench is the running fixture.
type bench struct {
	o        options
	tmp      string
	bin      string
	id       string
	view     featurespec.View
	refs     []string
	keys     []string
	rdb      *redis.Client
	store    *tiles.Store
	plan     *tiles.Plan
	mc       *model.Client
	js       jetstream.JetStream
	lrName   string
	gbdtName string
	cleanups []func()
}

// atClose adds f to what close runs, the last added first.
func (b *bench) atClose(f func()) { b.cleanups = append(b.cleanups, f) }

func (b *bench) close() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	b := &bench{o: o, id: randomHex(4)}
	defer b.close()
	tmp, err := os.MkdirTemp("", "serving-bench-")
	if err != nil {
		return err
	}
	b.tmp = tmp
	b.atClose(func() {
		if o.keepLogs {
			fmt.Fprintln(out, "logs kept in", tmp)
			return
		}
		_ = os.RemoveAll(tmp)
	})
	root, err := repoRoot(ctx)
	if err != nil {
		return err
	}
	b.bin = filepath.Join(tmp, "bin")
	fmt.Fprintln(out, "serving-bench: building serving and registry")
	if err := build(ctx, root, b.bin); err != nil {
		return err
	}
	// The empty handler, in a process of its own like the server.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	emptyAddr, err := b.addr()
	if err != nil {
		return err
	}
	empty, err := startProc("empty", tmp, nil, self, "-serve-empty", emptyAddr)
	if err != nil {
		return err
	}
	b.atClose(empty.stop)
	if err := b.registry(ctx); err != nil {
		return err
	}
	if err := b.online(ctx); err != nil {
		return err
	}
	lrVersion, gbdtVersion, err := b.models(ctx)
	if err != nil {
		return err
	}
	servingAddr, err := b.addr()
	if err != nil {
		return err
	}
	srv, err := startProc("serving", tmp, []string{"TRIBUTARY_REDIS_ADDR=" + o.redisAddr, "TRIBUTARY_NATS_URL=" + o.natsURL}, filepath.Join(b.bin, "serving"),
		"-http.addr", servingAddr, "-log.level", "warn", "-prediction-log.spill-dir", filepath.Join(tmp, "spill"))
	if err != nil {
		return err
	}
	b.atClose(srv.stop)
	servingURL := "http://" + servingAddr
	if err := srv.waitHTTP(servingURL+"/readyz", 2*time.Minute); err != nil {
		return err
	}
	if err := waitServed(ctx, srv, servingURL, map[string]int{b.lrName: lrVersion, b.gbdtName: gbdtVersion}); err != nil {
		return err
	}
	var mls *mlserver
	if o.mlserver {
		mls, err = b.startMLServer(ctx, root, out)
		if err != nil {
			return err
		}
		if mls != nil {
			b.atClose(mls.proc.stop)
		}
	}

	// Requests: bodies made once, so that the generator does little.
	predictBodies := make([][]byte, len(b.keys))
	for i, k := range b.keys {
		predictBodies[i] = []byte(`{"entities":["` + k + `"]}`)
	}
	inferBodies := inferRequests(len(b.keys), len(b.refs))
	nc := max(o.workers, o.clients)
	emptyConns, servingConns := newConns(emptyAddr, nc), newConns(servingAddr, nc)
	defer emptyConns.close()
	defer servingConns.close()
	pick := func(i int) int { return int(uint64(i) * 2654435761 % uint64(len(b.keys))) }
	type scenario struct {
		name string
		pgid int                  // the server's process group (0: none, the generator calls Redis itself)
		op   func(w, i int) error // worker w sends request i
	}
	sp, ep := srv.cmd.Process.Pid, empty.cmd.Process.Pid
	open := []scenario{
		{"empty net/http handler", ep, func(w, i int) error { return emptyConns[w].Post("/", predictBodies[pick(i)]) }},
		{"raw go-redis HMGET (pipelined)", 0, func(_, i int) error {
			// The fields of the current tiles, as a read computes them.
			fields := b.plan.ReadFields(time.Now().UnixMilli())
			_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.HMGet(ctx, b.store.Key(b.plan, b.keys[pick(i)]), fields...)
				return nil
			})
			return err
		}},
		{"/v1/predict logistic", sp, func(w, i int) error { return servingConns[w].Post("/v1/predict/"+b.lrName, predictBodies[pick(i)]) }},
		{"/v1/predict gbdt-500", sp, func(w, i int) error { return servingConns[w].Post("/v1/predict/"+b.gbdtName, predictBodies[pick(i)]) }},
		{"serving OIP infer gbdt-500", sp, func(w, i int) error {
			return servingConns[w].Post("/v2/models/"+b.gbdtName+"/infer", inferBodies[pick(i)])
		}},
	}
	closed := []scenario{{"serving OIP infer gbdt-500", sp, open[4].op}}
	if mls != nil {
		mlsConns := newConns(mls.addr, nc)
		defer mlsConns.close()
		op := func(w, i int) error { return mlsConns[w].Post("/v2/models/gbdt/infer", inferBodies[pick(i)]) }
		mp := mls.proc.cmd.Process.Pid
		open = append(open, scenario{"MLServer OIP infer gbdt-500", mp, op})
		closed = append(closed, scenario{"MLServer OIP infer gbdt-500", mp, op})
	}
	// Warm up every path (connections, models, MLServer's worker).
	for _, s := range append(open, closed...) {
		for i := range 20 {
			if err := s.op(i%nc, i); err != nil {
				return fmt.Errorf("warm-up of %s: %w", s.name, err)
			}
		}
	}

	fmt.Fprintf(out, "serving-bench: load average %s (2 cores); %d/s for %v per scenario (after %v of warm-up), %d workers; closed loop %d clients for %v; 1 entity × %d online features of %d entities (one HMGET of %d fields); serving pid %d\n",
		loadAverage(), o.rate, o.duration, o.warmup, o.workers, o.clients, o.saturation, len(b.refs), len(b.keys), len(b.plan.ReadFields(time.Now().UnixMilli())), srv.cmd.Process.Pid)
	redisPids := redisServers(o.redisAddr)
	wanted := func(name string) bool { return o.only == "" || strings.Contains(name, o.only) }
	var openRes, closedRes []result
	for _, s := range open {
		if !wanted(s.name) || ctx.Err() != nil {
			continue
		}
		if o.warmup > 0 {
			openLoop(s.name, o.rate, o.warmup, time.Second, o.workers, s.op)
		}
		m := startCPU(s.pgid, redisPids)
		r := openLoop(s.name, o.rate, o.duration, 2*time.Second, o.workers, s.op)
		r.cpu, r.load = m.perRequest(r.done()), loadAverage()
		openRes = append(openRes, r)
		fmt.Fprintf(out, "  %-32s %7.0f/s  p50 %8s  p99 %8s\n", r.name, r.perSec(), fmtDur(r.pct(0.5)), fmtDur(r.pct(0.99)))
	}
	if o.saturation > 0 {
		for _, s := range closed {
			if !wanted(s.name) || ctx.Err() != nil {
				continue
			}
			closedLoop(s.name, o.clients, time.Second, s.op)
			m := startCPU(s.pgid, redisPids)
			r := closedLoop(s.name, o.clients, o.saturation, s.op)
			r.cpu, r.load = m.perRequest(r.done()), loadAverage()
			closedRes = append(closedRes, r)
			fmt.Fprintf(out, "  %-32s %7.0f/s  p50 %8s  p99 %8s  (closed loop)\n", r.name, r.perSec(), fmtDur(r.pct(0.5)), fmtDur(r.pct(0.99)))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	// CPU per request: the server's processes, Redis (all of its work, the
	// other users' of a shared Redis included) and this generator.
	fmt.Fprintf(tw, "open loop at %d/s\tanswered/s\tp50\tp99\tp99.9\tmax\tfailed\tmissed\tserver CPU/req\tredis CPU/req\tgenerator CPU/req\tload avg\t\n", o.rate)
	for _, r := range openRes {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t\n", r.name, r.perSec(), fmtDur(r.pct(0.5)), fmtDur(r.pct(0.99)), fmtDur(r.pct(0.999)), fmtDur(r.pct(1)), r.failures, r.missed,
			fmtDur(r.cpu[0]), fmtDur(r.cpu[1]), fmtDur(r.cpu[2]), r.load)
	}
	fmt.Fprintf(tw, "closed loop, %d clients\tanswered/s\tp50\tp99\tp99.9\tmax\tfailed\t\tserver CPU/req\tredis CPU/req\tgenerator CPU/req\tload avg\t\n", o.clients)
	for _, r := range closedRes {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t\t%s\t%s\t%s\t%s\t\n", r.name, r.perSec(), fmtDur(r.pct(0.5)), fmtDur(r.pct(0.99)), fmtDur(r.pct(0.999)), fmtDur(r.pct(1)), r.failures,
			fmtDur(r.cpu[0]), fmtDur(r.cpu[1]), fmtDur(r.cpu[2]), r.load)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range openRes {
		if strings.HasPrefix(r.name, "/v1/predict") {
			verdict := "met"
			if r.pct(0.99) >= 5*time.Millisecond || r.perSec() < 0.99*r.target {
				verdict = "NOT met"
			}
			fmt.Fprintf(out, "goal p99 < 5ms at %d/s, %s: %s (p99 %s)\n", o.rate, r.name, verdict, fmtDur(r.pct(0.99)))
		}
	}
	if len(closedRes) == 2 {
		s, m := closedRes[0], closedRes[1]
		fmt.Fprintf(out, "serving / MLServer throughput at saturation: %.1fx (goal: at least 10x), p99 %s vs %s\n", s.perSec()/m.perSec(), fmtDur(s.pct(0.99)), fmtDur(m.pct(0.99)))
	}
	var failed []string
	for _, r := range append(openRes, closedRes...) {
		if r.failures > 0 {
			fmt.Fprintf(os.Stderr, "%s: %d failed, first: %s\n", r.name, r.failures, r.first)
			if !strings.HasPrefix(r.name, "MLServer") {
				failed = append(failed, r.name)
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("requests failed in: %s", strings.Join(failed, ", "))
	}
	return nil
}

func (b *bench) addr() (string, error) {
	p, err := freePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}

// registry starts the registry on the real NATS (a queue group member:
// next to other registries there) and connects its client.
func (b *bench) registry(ctx context.Context) error {
	addr, err := b.addr()
	if err != nil {
		return err
	}
	reg, err := startProc("registry", b.tmp, []string{"TRIBUTARY_NATS_URL=" + b.o.natsURL}, filepath.Join(b.bin, "registry"), "-http.addr", addr, "-log.level", "warn")
	if err != nil {
		return err
	}
	b.atClose(reg.stop)
	if err := reg.waitHTTP("http://"+addr+"/readyz", time.Minute); err != nil {
		return err
	}
	nc, err := nats.Connect(b.o.natsURL)
	if err != nil {
		return fmt.Errorf("connect to NATS %s: %w", b.o.natsURL, err)
	}
	b.atClose(nc.Close)
	if b.js, err = jetstream.New(nc); err != nil {
		return err
	}
	b.mc = model.NewClient(nc, b.js, model.WithTimeout(20*time.Second))
	return nil
}

// online applies the view and writes the entities' online state.
func (b *bench) online(ctx context.Context) error {
	views, err := featurespec.Parse([]byte(strings.ReplaceAll(benchSpec, "VIEW", "sbench_"+b.id)))
	if err != nil {
		return err
	}
	b.view = views[0]
	for _, f := range b.view.Features {
		b.refs = append(b.refs, b.view.Ref(f))
	}
	kv, err := b.js.KeyValue(ctx, natsx.BucketFeatures)
	if err != nil {
		return fmt.Errorf("open bucket %s (the registry creates it): %w", natsx.BucketFeatures, err)
	}
	if _, err := featurespec.Apply(ctx, kv, views, time.Now()); err != nil {
		return fmt.Errorf("apply view: %w", err)
	}
	b.atClose(func() { _ = kv.Purge(context.Background(), model.FeatureViewKey(b.view.Name)) })
	b.rdb = redis.NewClient(&redis.Options{Addr: b.o.redisAddr, PoolSize: b.o.workers})
	b.atClose(func() { _ = b.rdb.Close() })
	b.plan = tiles.Compile(b.view)
	b.store = tiles.NewStore(b.rdb, "")
	b.atClose(func() {
		cctx := context.Background()
		for _, k := range b.keys {
			b.rdb.Del(cctx, b.store.Key(b.plan, k))
		}
	})
	now := time.Now()
	r := mrand.New(mrand.NewPCG(1, 2))
	var ups []*tiles.Update
	for i := range b.o.entities {
		key := fmt.Sprintf("user-%05d", i)
		b.keys = append(b.keys, key)
		u := &tiles.Update{Plan: b.plan, Entity: key}
		// 100 events over the last 2 hours: every window has values.
		for j := range 100 {
			u.Events = append(u.Events, tiles.Event{Time: now.Add(-2*time.Hour + time.Duration(j)*72*time.Second).UnixMilli(),
				Seq: tiles.Seq{Offset: int64(j)}, Fields: map[string]any{"x": r.Float64() * 100}})
		}
		ups = append(ups, u)
		if len(ups) == 100 || i == b.o.entities-1 {
			if err := b.store.Apply(ctx, ups, now.UnixMilli()); err != nil {
				return fmt.Errorf("write online state: %w", err)
			}
			ups = nil
		}
	}
	return nil
}

// models registers the two models and points production at them.
func (b *bench) models(ctx context.Context) (int, int, error) {
	// A logistic regression on synthetic rows shaped like the features.
	r := mrand.New(mrand.NewPCG(3, 4))
	d := &learn.Dataset{Rows: 2000, Cols: len(b.refs), Features: b.refs}
	for range d.Rows {
		z := 0.0
		for j := range d.Cols {
			x := r.Float64() * 100
			d.X = append(d.X, x)
			z += (x - 50) * float64(j%3-1) / 50
		}
		d.Y = append(d.Y, map[bool]float64{true: 1, false: 0}[z+r.NormFloat64() > 0])
	}
	lr, err := linear.TrainLogistic(ctx, d, learn.TaskBinary, linear.LogisticConfig{})
	if err != nil {
		return 0, 0, fmt.Errorf("train the logistic model: %w", err)
	}
	var lrFile bytes.Buffer
	if err := modelfile.Save(&lrFile, lr); err != nil {
		return 0, 0, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(gbdtModel))
	if err != nil {
		return 0, 0, err
	}
	gbdt, err := io.ReadAll(zr)
	if err != nil {
		return 0, 0, fmt.Errorf("read the GBDT model: %w", err)
	}
	b.lrName, b.gbdtName = "sbench-lr-"+b.id, "sbench-gbdt-"+b.id
	lv, err := b.register(ctx, b.lrName, "tributary", lrFile.Bytes())
	if err != nil {
		return 0, 0, err
	}
	gv, err := b.register(ctx, b.gbdtName, "lightgbm", gbdt)
	if err != nil {
		return 0, 0, err
	}
	for name, v := range map[string]int{b.lrName: lv, b.gbdtName: gv} {
		if _, err := b.mc.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: v, Actor: "serving-bench"}); err != nil {
			return 0, 0, fmt.Errorf("move production of %s: %w", name, err)
		}
		// Afterwards no serving keeps the benchmark's models loaded.
		b.atClose(func() {
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = b.mc.DeleteAlias(dctx, model.DeleteAliasRequest{Model: name, Alias: "production", Actor: "serving-bench", Reason: "benchmark done"})
		})
	}
	return lv, gv, nil
}

func (b *bench) register(ctx context.Context, name, format string, artifact []byte) (int, error) {
	a, err := b.mc.PutArtifact(ctx, bytes.NewReader(artifact))
	if err != nil {
		return 0, fmt.Errorf("store the artifact of %s: %w", name, err)
	}
	numeric := model.NewNumeric([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 4)
	ref := model.Reference{Features: map[string]model.Distribution{}, Prediction: numeric}
	for _, r := range b.refs {
		ref.Features[r] = numeric
	}
	v, err := b.mc.Register(ctx, model.RegisterRequest{Model: name, Format: format, Artifact: a, Actor: "serving-bench",
		Lineage: model.Lineage{TrainingSetID: "serving-bench", TrainingSetSHA256: strings.Repeat("ab", 32), Features: b.refs,
			Trainer: format, CodeVersion: "serving-bench", Metrics: map[string]float64{}, Reference: ref, Trigger: event.TriggerManual}})
	if err != nil {
		return 0, fmt.Errorf("register %s: %w", name, err)
	}
	return v.Version, nil
}

// waitServed polls /v1/models until production of each model serves its
// version.
func waitServed(ctx context.Context, p *proc, base string, want map[string]int) error {
	deadline := time.Now().Add(2 * time.Minute)
	var last []byte
	for {
		resp, err := http.Get(base + "/v1/models")
		if err == nil {
			last, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			var ms struct {
				Models []struct {
					Name    string `json:"name"`
					Aliases []struct {
						Alias   string `json:"alias"`
						Version int    `json:"version"`
					} `json:"aliases"`
				} `json:"models"`
			}
			if json.Unmarshal(last, &ms) == nil {
				served := 0
				for _, m := range ms.Models {
					for _, a := range m.Aliases {
						if v, ok := want[m.Name]; ok && a.Alias == "production" && a.Version == v {
							served++
						}
					}
				}
				if served == len(want) {
					return nil
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("serving did not serve %v within 2m: /v1/models %.2000s\n%s", want, last, p.tail(20))
		}
		time.Sleep(200 * time.Millisecond) // polling serving's state with a deadline
	}
}

// inferRequests are OIP bodies of one row of features each.
func inferRequests(n, cols int) [][]byte {
	r := mrand.New(mrand.NewPCG(5, 6))
	out := make([][]byte, n)
	for i := range out {
		var b []byte
		b = append(b, `{"inputs":[{"name":"input-0","shape":[1,`...)
		b = strconv.AppendInt(b, int64(cols), 10)
		b = append(b, `],"datatype":"FP64","data":[`...)
		for j := range cols {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, float64(r.IntN(10000))/100, 'f', -1, 64)
		}
		out[i] = append(b, `]}]}`...)
	}
	return out
}
