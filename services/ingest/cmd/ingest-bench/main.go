// Command ingest-bench measures the ingest service's HTTP path into a real
// Kafka broker: events/s and p50/p99 latency for single events and for
// batches of 100 events of about 1 KB, beside a raw franz-go producer
// sending the same records to the same broker in the same run (the limit),
// and beside an empty net/http handler on the same machine (the floor of
// HTTP itself). It runs ingest's own HTTP handler, intake and producer
// in-process on a loopback listener, with the service's default producer
// settings, against topics of its own that it deletes at the end. The HTTP
// load comes from a child process (this program again, with -client), so
// that the CPU time of ingest and of its clients are measured apart; the
// machine's CPU per event (all its cores, /proc/stat: the broker and the
// kernel too) says what a ratio costs on a machine whose cores everything
// shares, and is only meaningful on an otherwise quiet machine.
//
//	go run ./services/ingest/cmd/ingest-bench -duration 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/streamspec"
	"github.com/tributary-ml/tributary/services/ingest/internal/app"
	"github.com/tributary-ml/tributary/services/ingest/internal/auth"
	"github.com/tributary-ml/tributary/services/ingest/internal/dedup"
	"github.com/tributary-ml/tributary/services/ingest/internal/httpapi"
	"github.com/tributary-ml/tributary/services/ingest/internal/intake"
	"github.com/tributary-ml/tributary/services/ingest/internal/streams"
)

type options struct {
	kafka       kafkax.Config
	duration    time.Duration
	concurrency int
	batch       int
	eventBytes  int
	partitions  int
	only        string
	compression string
	rounds      int
	warmup      time.Duration
	// client mode (the child process of an HTTP scenario)
	clientURL  string
	clientKind string
	clientRun  string
	clientSeq  int64
}

func main() { os.Exit(realMain()) }

func realMain() int {
	var o options
	fs := flag.NewFlagSet("ingest-bench", flag.ContinueOnError)
	o.kafka.RegisterFlags(fs)
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "How long each scenario runs.")
	fs.IntVar(&o.concurrency, "concurrency", 16, "Concurrent clients of each scenario.")
	fs.IntVar(&o.batch, "batch", 100, "Events per batch.")
	fs.IntVar(&o.eventBytes, "event-bytes", 1024, "Approximate size of one event (JSON, structured mode).")
	fs.IntVar(&o.rounds, "rounds", 1, "Rounds of all scenarios; the ratios are taken within each round (the sides alternate) and their median reported.")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "Before the measured rounds, run each scenario this long, unreported (the broker, the producer and the handler warm up: a first round is otherwise slower on the raw producer's side, which inflates its ratio); 0: none.")
	fs.IntVar(&o.partitions, "partitions", 3, "Partitions of the benchmark topics.")
	fs.StringVar(&o.only, "only", "", "Run only the scenarios whose names contain this string (for profiling).")
	fs.StringVar(&o.compression, "compression", "", "Producer batch compression for the experiment: none, gzip, snappy, lz4 or zstd (empty: the service's, franz-go's default).")
	cpuProfile := fs.String("cpuprofile", "", "Write a CPU profile of the whole run to this file (the server's process: ingest, not its load generator).")
	fs.StringVar(&o.clientURL, "client", "", "Internal: be the load generator of an HTTP scenario against this base URL, and print its result as JSON.")
	fs.StringVar(&o.clientKind, "client-kind", "", "Internal: the client's scenario: empty, single or batch.")
	fs.StringVar(&o.clientRun, "client-run", "", "Internal: the run's tag in the event ids.")
	fs.Int64Var(&o.clientSeq, "client-seq", 0, "Internal: the first sequence number of the client's events.")
	if err := service.ParseFlags(fs, os.Args[1:], os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if o.clientURL != "" {
		if err := runClient(o, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "ingest-bench client:", err)
			return 1
		}
		return 0
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ingest-bench:", err)
		return 1
	}
	return 0
}

const benchType = "com.example.bench.event.v1"

const benchStream = `{"name":"bench","type":"` + benchType + `","entity_key":"/user_id","event_time":"/at",
 "schema":{"type":"object","required":["user_id","item_id","at","amount","payload"],"properties":{
  "user_id":{"type":"string","minLength":1},"item_id":{"type":"string"},"at":{"type":"string","format":"date-time"},
  "amount":{"type":"number","minimum":0},"tags":{"type":"array","items":{"type":"string"}},"payload":{"type":"string"}},
  "additionalProperties":false}}`

// result is one scenario's figures.
type result struct {
	Name     string        `json:"name"`
	Events   int64         `json:"events"`
	Requests int64         `json:"requests"`
	Failures int64         `json:"failures"`
	First    string        `json:"first_failure,omitempty"`
	Elapsed  time.Duration `json:"elapsed"`
	// CPU is the CPU time of the process during the scenario: the server's
	// (ingest, or the raw producer with the building of its records), not
	// the load generator's, which is ClientCPU (0 for the raw producer,
	// whose records are made in its own process).
	CPU       time.Duration `json:"cpu"`
	ClientCPU time.Duration `json:"client_cpu"`
	// MachineCPU is the busy time of all the machine's cores during the
	// scenario (/proc/stat): the server, its load generator, the broker
	// and the kernel's network stack. On 2 cores all of it competes for
	// the same CPU, so the ratio of two scenarios' rates is about the
	// inverse ratio of their MachineCPU per event.
	MachineCPU time.Duration   `json:"-"`
	P50        time.Duration   `json:"p50"`
	P99        time.Duration   `json:"p99"`
	latencies  []time.Duration // sorted
}

func perEvent(cpu time.Duration, events int64) float64 {
	if events == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(events)
}

// machineCPU is the time all the machine's cores have been busy, from
// /proc/stat (0 where it cannot be read).
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ
}

// processCPU is the CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (r result) eventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// load runs concurrency workers calling op until the duration is over;
// op returns how many events it carried and whether it succeeded.
func load(name string, o options, op func(worker int, seq int64) (int, error)) result {
	if o.only != "" && !strings.Contains(name, o.only) {
		return result{Name: name, Elapsed: time.Second}
	}
	var (
		mu    sync.Mutex
		res   = result{Name: name}
		seq   atomic.Int64
		wg    sync.WaitGroup
		first atomic.Value
	)
	end := time.Now().Add(o.duration)
	start, cpu0, machine0 := time.Now(), processCPU(), machineCPU()
	for w := range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var events, reqs, fails int64
			for time.Now().Before(end) {
				t0 := time.Now()
				n, err := op(w, seq.Add(1))
				if err != nil {
					fails++
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				lat = append(lat, time.Since(t0))
				events += int64(n)
				reqs++
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.Events += events
			res.Requests += reqs
			res.Failures += fails
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed, res.CPU, res.MachineCPU = time.Since(start), processCPU()-cpu0, machineCPU()-machine0
	slices.Sort(res.latencies)
	res.P50, res.P99 = pct(res.latencies, 0.50), pct(res.latencies, 0.99)
	if e := first.Load(); e != nil {
		res.First = e.(string)
		fmt.Fprintf(os.Stderr, "%s: %d failures, first: %v\n", name, res.Failures, e)
	}
	return res
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// generator renders the benchmark's events cheaply, so that the load
// generator, on the same cores, takes as little CPU as it can from what is
// measured: the time and the padding are rendered once.
type generator struct {
	at  string
	pad string
}

func newGenerator(size int) *generator {
	g := &generator{at: time.Now().UTC().Format(time.RFC3339Nano)}
	sample := g.appendEvent(nil, "xxxxxx-xx", 1e9)
	g.pad = strings.Repeat("x", max(0, size-len(sample)))
	return g
}

// appendData appends the data of event seq: about size bytes with its
// envelope.
func (g *generator) appendData(b []byte, seq int64) []byte {
	b = append(b, `{"user_id":"user-`...)
	b = strconv.AppendInt(b, seq%10000, 10)
	b = append(b, `","item_id":"item-`...)
	b = strconv.AppendInt(b, seq%977, 10)
	b = append(b, `","at":"`...)
	b = append(b, g.at...)
	b = append(b, `","amount":`...)
	b = strconv.AppendInt(b, seq%1000, 10)
	b = append(b, `.5,"tags":["a","b","c"],"payload":"`...)
	b = append(b, g.pad...)
	return append(b, `"}`...)
}

// appendEvent appends event seq in structured mode, its id tag-seq.
func (g *generator) appendEvent(b []byte, tag string, seq int64) []byte {
	b = append(b, `{"specversion":"1.0","id":"`...)
	b = append(b, tag...)
	b = append(b, '-')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","source":"/bench/producer","type":"`+benchType+`","time":"`...)
	b = append(b, g.at...)
	b = append(b, `","datacontenttype":"application/json","data":`...)
	b = g.appendData(b, seq)
	return append(b, '}')
}

func run(ctx context.Context, o options, out io.Writer) error {
	if err := o.kafka.Validate(); err != nil {
		return err
	}
	if o.rounds < 1 {
		return fmt.Errorf("rounds: %d, at least 1", o.rounds)
	}
	prefix := "bench-" + randomHex(4) + "."
	topics := kafkax.TopicsConfig{Partitions: o.partitions, ReplicationFactor: -1, Retention: time.Hour, DLQRetention: time.Hour, NamePrefix: prefix}
	admCl, err := kafkax.NewClient(o.kafka, nil, "")
	if err != nil {
		return err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	stream, err := streamspec.Parse([]byte(benchStream))
	if err != nil {
		return err
	}
	rawTopic := prefix + "raw"
	if _, err := kafkax.EnsureTopics(ctx, adm, topics.Topic(event.TopicDLQ), topics.Topic(stream.Topic), topics.Topic("raw")); err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(dctx, prefix+event.TopicDLQ, prefix+stream.Topic, rawTopic)
	}()

	// Ingest as the service builds it, with its default producer settings.
	popts := app.ProducerOpts(app.ProducerConfig{MaxBufferedRecords: 20000, MaxBufferedBytes: 128 << 20, DeliveryTimeout: time.Minute}, 512<<10)
	if o.compression != "" {
		codec, ok := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
			"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}[o.compression]
		if !ok {
			return fmt.Errorf("compression: %q is none of none, gzip, snappy, lz4, zstd", o.compression)
		}
		popts = append(popts, kgo.ProducerBatchCompression(codec))
	}
	producer, err := kafkax.NewClient(o.kafka, nil, "", popts...)
	if err != nil {
		return err
	}
	defer producer.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	labels, err := streamspec.Labels()
	if err != nil {
		return err
	}
	reg, err := streams.New(logger, prometheus.NewRegistry(), labels, []*streamspec.Stream{stream},
		func(context.Context, *streamspec.Stream) error { return nil }, nil)
	if err != nil {
		return err
	}
	reg.WithoutBucket()
	if err := reg.Ensure(ctx); err != nil {
		return err
	}
	in := intake.New(intake.Config{MaxEventBytes: 512 << 10, MaxFuture: 5 * time.Minute, MaxPast: 7 * 24 * time.Hour, ProduceTimeout: 10 * time.Second, TopicPrefix: prefix},
		logger, prometheus.NewRegistry(), reg, producer, dedup.New(10*time.Minute, 500000))
	keys, err := auth.New(auth.Config{Keys: "bench:" + auth.Hash("bench-key") + ":*"})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/events", httpapi.New(httpapi.Config{MaxBodyBytes: 4 << 20, MaxBatch: 1000, MaxInFlight: 512, RetryAfter: time.Second}, logger, prometheus.NewRegistry(), noop.NewTracerProvider(), service.NewPropagator(), keys, in))
	mux.HandleFunc("POST /empty", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	run := randomHex(3)
	gen := newGenerator(o.eventBytes)
	rawRecord := func(tag string, seq int64) *kgo.Record {
		key := []byte("user-" + strconv.FormatInt(seq%10000, 10))
		return &kgo.Record{Topic: rawTopic, Key: key, Value: gen.appendData(make([]byte, 0, o.eventBytes), seq), Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(run + tag + "-" + strconv.FormatInt(seq, 10))},
			{Key: "ce_source", Value: []byte("/bench/producer")}, {Key: "ce_type", Value: []byte(benchType)},
			{Key: "ce_time", Value: []byte(gen.at)}, {Key: "ce_partitionkey", Value: key}, {Key: "content-type", Value: []byte("application/json")},
		}}
	}
	// Warm up the handler, the producer and the topics' leaders.
	warm := newHTTPClient(base, run, o)
	if err := warm.post("/v1/events", httpapi.ContentTypeBatch, warm.batchBody(0, 1<<40), http.StatusAccepted); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := producer.ProduceSync(ctx, rawRecord("-w", 0)).FirstErr(); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	sample := gen.appendEvent(nil, run+"-s", 0)
	fmt.Fprintf(out, "ingest-bench: brokers %s, %d partitions, %d clients, %v per scenario, %d rounds after a warm-up of %v a scenario, events of %d bytes, batches of %d\n",
		o.kafka.Brokers, o.partitions, o.concurrency, o.duration, o.rounds, o.warmup, len(sample), o.batch)
	// The HTTP scenarios' load comes from a child process (kind is its
	// -client-kind); the raw producer's records are made in this one.
	scenarios := []struct {
		name string
		kind string
		op   func(w int, seq int64) (int, error)
	}{
		{name: "empty net/http handler, 1 event a request", kind: "empty"},
		{name: "raw franz-go producer, 1 record a call (ProduceSync)", op: func(_ int, seq int64) (int, error) {
			return 1, producer.ProduceSync(ctx, rawRecord("-r1", seq)).FirstErr()
		}},
		{name: "ingest HTTP, 1 event a request", kind: "single"},
		{name: fmt.Sprintf("raw franz-go producer, %d records a call (ProduceSync)", o.batch), op: func(_ int, seq int64) (int, error) {
			recs := make([]*kgo.Record, o.batch)
			for i := range recs {
				recs[i] = rawRecord("-rb", seq*int64(o.batch)+int64(i))
			}
			return o.batch, producer.ProduceSync(ctx, recs...).FirstErr()
		}},
		{name: fmt.Sprintf("ingest HTTP, batches of %d events", o.batch), kind: "batch"},
	}
	// Each round runs every scenario once, so that the sides of a ratio
	// alternate and share the machine's conditions; a ratio is taken
	// within a round, and the median of the rounds' is reported.
	seqBase := int64(0)
	runRound := func(o options) ([]result, error) {
		var results []result
		for _, sc := range scenarios {
			if sc.op == nil {
				res, err := childLoad(ctx, sc.name, sc.kind, o, base, run, seqBase)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", sc.name, err)
				}
				results = append(results, res)
				continue
			}
			op := sc.op
			base := seqBase
			results = append(results, load(sc.name, o, func(w int, seq int64) (int, error) { return op(w, base+seq) }))
		}
		seqBase += 1 << 32 // new event ids each round
		return results, nil
	}
	// The warm-up is a round of its own, not reported: Kafka's first
	// seconds under load are slower than the next.
	if o.warmup > 0 {
		w := o
		w.duration = o.warmup
		warmed, err := runRound(w)
		if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		for _, r := range warmed {
			if r.Failures > 0 {
				return fmt.Errorf("warm-up: %s: %d failed calls", r.Name, r.Failures)
			}
		}
	}
	rounds := make([][]result, o.rounds)
	for r := range rounds {
		if rounds[r], err = runRound(o); err != nil {
			return err
		}
	}

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tround\tevents/s\tcalls/s\tp50\tp99\tserver CPU µs/event\tclient CPU µs/event\tmachine CPU µs/event\tfailures\t")
	for r, results := range rounds {
		for _, res := range results {
			if res.Events == 0 && res.Failures == 0 {
				continue // not run (-only)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%v\t%v\t%.1f\t%.1f\t%.1f\t%d\t\n", res.Name, r+1, res.eventsPerSec(), float64(res.Requests)/res.Elapsed.Seconds(),
				res.P50.Round(10*time.Microsecond), res.P99.Round(10*time.Microsecond), perEvent(res.CPU, res.Events), perEvent(res.ClientCPU, res.Events), perEvent(res.MachineCPU, res.Events), res.Failures)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ratio := func(label string, a, b int) {
		var rs []float64
		for _, results := range rounds {
			if results[a].Events > 0 && results[b].Events > 0 {
				rs = append(rs, 100*results[a].eventsPerSec()/results[b].eventsPerSec())
			}
		}
		if len(rs) == 0 {
			fmt.Fprintf(out, "%s: n/a\n", label)
			return
		}
		each := make([]string, len(rs))
		for i, v := range rs {
			each[i] = fmt.Sprintf("%.0f%%", v)
		}
		slices.Sort(rs)
		median := rs[len(rs)/2]
		if len(rs)%2 == 0 {
			median = (rs[len(rs)/2-1] + median) / 2
		}
		fmt.Fprintf(out, "%s: %.0f%% (median of %d rounds: %s)\n", label, median, len(rs), strings.Join(each, ", "))
	}
	ratio("ingest HTTP single / raw producer single", 2, 1)
	ratio("ingest HTTP batch / raw producer batch (goal: at least 50%)", 4, 3)
	ratio("ingest HTTP single / empty net/http handler", 2, 0)
	for _, results := range rounds {
		for _, r := range results {
			if r.Failures > 0 {
				return fmt.Errorf("%s: %d failed calls", r.Name, r.Failures)
			}
		}
	}
	return nil
}

// httpClient is the load generator of the HTTP scenarios.
type httpClient struct {
	base   string
	run    string
	batch  int
	client *http.Client
	gen    *generator
	bufs   [][]byte // each worker's body
}

func newHTTPClient(base, run string, o options) *httpClient {
	return &httpClient{
		base: base, run: run, batch: o.batch, gen: newGenerator(o.eventBytes), bufs: make([][]byte, o.concurrency),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency, MaxConnsPerHost: o.concurrency, WriteBufferSize: 256 << 10}, Timeout: 30 * time.Second},
	}
}

func (c *httpClient) post(path, contentType string, body []byte, want int) error {
	req, err := http.NewRequest("POST", c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer bench-key")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	return nil
}

func (c *httpClient) batchBody(worker int, seq int64) []byte {
	b := append(c.bufs[worker][:0], '[')
	for i := range c.batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = c.gen.appendEvent(b, c.run+"-b", seq*int64(c.batch)+int64(i))
	}
	b = append(b, ']')
	c.bufs[worker] = b
	return b
}

func (c *httpClient) single(worker int, tag string, seq int64) []byte {
	c.bufs[worker] = c.gen.appendEvent(c.bufs[worker][:0], c.run+tag, seq)
	return c.bufs[worker]
}

// op is the call of a scenario kind.
func (c *httpClient) op(kind string) (func(w int, seq int64) (int, error), error) {
	switch kind {
	case "empty":
		return func(w int, seq int64) (int, error) {
			return 1, c.post("/empty", httpapi.ContentTypeStructured, c.single(w, "-e", seq), http.StatusAccepted)
		}, nil
	case "single":
		return func(w int, seq int64) (int, error) {
			return 1, c.post("/v1/events", httpapi.ContentTypeStructured, c.single(w, "-s", seq), http.StatusAccepted)
		}, nil
	case "batch":
		return func(w int, seq int64) (int, error) {
			return c.batch, c.post("/v1/events", httpapi.ContentTypeBatch, c.batchBody(w, seq), http.StatusAccepted)
		}, nil
	}
	return nil, fmt.Errorf("client-kind: %q is none of empty, single, batch", kind)
}

// runClient is the child process of an HTTP scenario: it prints "start"
// when its load begins and its result, as one line of JSON, when it ends.
func runClient(o options, out io.Writer) error {
	c := newHTTPClient(o.clientURL, o.clientRun, o)
	op, err := c.op(o.clientKind)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, "start"); err != nil {
		return err
	}
	base := o.clientSeq
	res := load(o.clientKind, o, func(w int, seq int64) (int, error) { return op(w, base+seq) })
	return json.NewEncoder(out).Encode(res)
}

// childLoad runs an HTTP scenario with its load from a child process: the
// result's CPU is this process's (the server's) between the child's start
// and end lines, its ClientCPU the child's.
func childLoad(ctx context.Context, name, kind string, o options, base, run string, seq int64) (result, error) {
	if o.only != "" && !strings.Contains(name, o.only) {
		return result{Name: name, Elapsed: time.Second}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return result{}, fmt.Errorf("find this program for the load generator: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, "-client", base, "-client-kind", kind, "-client-run", run, "-client-seq", strconv.FormatInt(seq, 10),
		"-duration", o.duration.String(), "-concurrency", strconv.Itoa(o.concurrency), "-batch", strconv.Itoa(o.batch), "-event-bytes", strconv.Itoa(o.eventBytes))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start the load generator: %w", err)
	}
	var (
		res     result
		cpu0    time.Duration
		mach0   time.Duration
		started bool
		got     bool
	)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		switch line := sc.Bytes(); {
		case string(line) == "start":
			cpu0, mach0, started = processCPU(), machineCPU(), true
		case started && !got:
			cpu, mach := processCPU()-cpu0, machineCPU()-mach0
			if err := json.Unmarshal(line, &res); err != nil {
				_ = cmd.Wait()
				return result{}, fmt.Errorf("read the load generator's result: %w", err)
			}
			res.Name, res.ClientCPU, res.CPU, res.MachineCPU, got = name, res.CPU, cpu, mach, true
		}
	}
	if err := cmd.Wait(); err != nil {
		return result{}, fmt.Errorf("load generator: %w", err)
	}
	if !got {
		return result{}, errors.New("the load generator printed no result")
	}
	return res, nil
}
