package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/chx/chxtest"
	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/featurespec"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/reason"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/features/internal/api"
	"github.com/tributary-ml/tributary/services/features/internal/app"
)

const testSpec = `
entities: [{name: user}]
sources:
  - name: clicks
    stream: clicks
    entity_key: /user_id
    event_time: /clicked_at
    fields: {item_id: string, price: number, page: string}
views:
  - name: uc
    entity: user
    source: clicks
    ttl: 1d
    lateness: 10m
    features:
      - {name: clicks, agg: count, windows: [1m, 5m, 1h, 1d]}
      - {name: spend, agg: sum, field: price, windows: [5m, 1h, 1d]}
      - {name: price_mean, agg: mean, field: price, windows: [5m, 1h]}
      - {name: price_min, agg: min, field: price, windows: [5m, 1h, 1d]}
      - {name: price_max, agg: max, field: price, windows: [1d]}
      - {name: price_sd, agg: stddev, field: price, windows: [1h, 1d]}
      - {name: items, agg: distinct, field: item_id, windows: [1h, 1d]}
      - {name: last_item, agg: last, field: item_id, windows: [5m]}
      - {name: cart, agg: count, windows: [1h], filter: {field: page, op: eq, value: cart}}
      - {name: last_page, agg: latest, field: page}
`

type harness struct {
	t        testing.TB
	prefix   string
	db       string
	ch       driver.Conn // to ClickHouse's default database; tables are db.table
	kafka    *kgo.Client
	adm      *kadm.Client
	js       jetstream.JetStream
	nc       *nats.Conn
	view     featurespec.View
	refs     []string
	group    string
	users    []string
	produced int
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Kafka, NATS, Redis and ClickHouse")
	}
	servicetest.RequireServers(t, "kafka", "nats", "redis", "clickhouse")
	n := time.Now().UnixNano()
	h := &harness{t: t, prefix: fmt.Sprintf("ft%d_", n)}
	h.group = h.prefix + "group"
	var err error
	h.kafka, err = kgo.NewClient(kgo.SeedBrokers(testkit.KafkaBrokers(t)...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.kafka.Close)
	h.adm = kadm.NewClient(h.kafka)
	ctx := context.Background()
	topics := []string{h.prefix + event.EventsTopic("clicks"), h.prefix + event.TopicLabels, h.prefix + event.TopicDLQ}
	if _, err := h.adm.CreateTopics(ctx, 3, 1, nil, topics...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = h.adm.DeleteTopics(context.Background(), topics...) })
	h.nc, err = nats.Connect(testkit.NATSURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.nc.Close)
	h.js, err = jetstream.New(h.nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c := context.Background()
		_ = h.js.DeleteStream(c, h.prefix+natsx.StreamName)
		for _, b := range []string{natsx.BucketModels, natsx.BucketFeatures, natsx.BucketJobs, natsx.BucketSchemas} {
			_ = h.js.DeleteKeyValue(c, h.prefix+b)
		}
		_ = h.js.DeleteObjectStore(c, h.prefix+natsx.ObjectStoreArtifacts)
	})
	h.ch, h.db = chxtest.Database(t, "ftest_")
	views, err := featurespec.Parse([]byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	h.view = views[0]
	for _, f := range h.view.Features {
		h.refs = append(h.refs, h.view.Ref(f))
	}
	for i := range 20 {
		h.users = append(h.users, fmt.Sprintf("user-%02d", i))
	}
	return h
}

func (h *harness) start(extra ...string) *servicetest.Process {
	h.t.Helper()
	var cfg app.Config
	prog := service.Program{
		Name: "features", HTTPAddr: ":8082", Config: &cfg,
		New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
			cfg.Prefix = h.prefix
			cfg.JetStream.Prefix = h.prefix
			return app.New(ctx, cfg, rt)
		},
	}
	args := append([]string{"-clickhouse.database=" + h.db, "-materializer.group=" + h.group, "-datasets.consumer=" + h.prefix + "datasets", "-materializer.max-records=700"}, extra...)
	p := servicetest.Start(h.t, prog, args...)
	p.WaitReady(60 * time.Second)
	return p
}

func (h *harness) apply() {
	h.t.Helper()
	ctx := context.Background()
	kv, err := h.js.KeyValue(ctx, h.prefix+natsx.BucketFeatures)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := featurespec.Apply(ctx, kv, []featurespec.View{h.view}, time.Now()); err != nil {
		h.t.Fatal(err)
	}
}

// click produces one click of user at t.
func (h *harness) record(topic, id, key, typ string, data any) *kgo.Record {
	h.t.Helper()
	e := ce.New()
	e.SetID(id)
	e.SetSource("/test")
	e.SetType(typ)
	e.SetTime(time.Now())
	e.SetExtension("partitionkey", key)
	if err := e.SetData(ce.ApplicationJSON, data); err != nil {
		h.t.Fatal(err)
	}
	r, err := event.ToKafkaRecord(context.Background(), e, topic)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

type click struct {
	User  string
	At    time.Time
	Price float64
	Item  string
	Page  string
}

// produce sends clicks in the given (arrival) order.
func (h *harness) produce(clicks []click) {
	h.t.Helper()
	recs := make([]*kgo.Record, len(clicks))
	for i, c := range clicks {
		h.produced++
		recs[i] = h.record(h.prefix+event.EventsTopic("clicks"), fmt.Sprintf("c-%d", h.produced), c.User, "com.example.shop.click.v1", map[string]any{
			"user_id": c.User, "item_id": c.Item, "clicked_at": c.At.UTC().Format(time.RFC3339Nano), "price": c.Price, "page": c.Page,
		})
	}
	if err := h.kafka.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
}

// randomClicks returns n clicks with times in [from, to), in shuffled order.
func (h *harness) randomClicks(r *rand.Rand, n int, from, to time.Time) []click {
	span := to.Sub(from)
	out := make([]click, n)
	for i := range out {
		out[i] = click{
			User:  h.users[r.IntN(len(h.users))],
			At:    from.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Millisecond),
			Price: float64(r.IntN(20000)) / 100,
			Item:  fmt.Sprintf("item-%d", r.IntN(30)),
			Page:  []string{"home", "search", "item", "cart"}[r.IntN(4)],
		}
	}
	// Mostly in time order, with a fraction shuffled: out-of-order arrivals,
	// some within the 10m lateness and some beyond.
	slices.SortFunc(out, func(a, b click) int { return a.At.Compare(b.At) })
	for i := range out {
		if r.IntN(4) == 0 {
			j := min(len(out)-1, i+r.IntN(200))
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// caughtUp waits until the group has committed every produced record.
func (h *harness) caughtUp(timeout time.Duration) {
	h.t.Helper()
	ctx := context.Background()
	topic := h.prefix + event.EventsTopic("clicks")
	testkit.Eventually(h.t, timeout, func() error {
		ends, err := h.adm.ListEndOffsets(ctx, topic, h.prefix+event.TopicLabels)
		if err != nil {
			h.t.Fatal(err)
		}
		committed, err := h.adm.FetchOffsets(ctx, h.group)
		if err != nil {
			return fmt.Errorf("materializer did not catch up within %v: fetch offsets: %w", timeout, err)
		}
		var behind []string
		ends.Each(func(o kadm.ListedOffset) {
			c, ok := committed.Lookup(o.Topic, o.Partition)
			if o.Offset > 0 && (!ok || c.At < o.Offset) {
				behind = append(behind, fmt.Sprintf("%s/%d at %d of %d", o.Topic, o.Partition, c.At, o.Offset))
			}
		})
		if len(behind) > 0 {
			return fmt.Errorf("materializer did not catch up within %v: %s", timeout, strings.Join(behind, ", "))
		}
		return nil
	})
}

func (h *harness) read(p *servicetest.Process, entities []string) api.Response {
	h.t.Helper()
	b, _ := json.Marshal(api.Request{Entities: entities, Features: h.refs})
	resp, err := http.Post(p.URL+"/v1/features", "application/json", bytes.NewReader(b))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		h.t.Fatalf("read: %d %s", resp.StatusCode, body)
	}
	var out api.Response
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

type snapshot struct {
	asOf time.Time
	vals map[string]map[string]api.Value // entity -> ref -> value
}

func (h *harness) snapshot(p *servicetest.Process) snapshot {
	r := h.read(p, h.users)
	s := snapshot{asOf: r.AsOf, vals: map[string]map[string]api.Value{}}
	for _, e := range r.Results {
		s.vals[e.Entity] = e.Values
	}
	return s
}

// dataset requests a training set over NATS for labels at the snapshots'
// instants and returns its rows: entity|ms -> ref -> value.
func (h *harness) dataset(stream string, snaps []snapshot) (event.DatasetReady, map[string]map[string]any) {
	h.t.Helper()
	ctx := context.Background()
	var recs []*kgo.Record
	for i, s := range snaps {
		for _, u := range h.users {
			recs = append(recs, h.record(h.prefix+event.TopicLabels, fmt.Sprintf("l-%d-%s", i, u), u, event.TypeLabelRecorded,
				event.LabelRecorded{Stream: stream, EntityKey: u, Value: float64(i), EventTime: s.asOf}))
		}
	}
	if err := h.kafka.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
	h.caughtUp(30 * time.Second)
	readySubject, _ := event.Subject(event.TypeDatasetReady)
	sub, err := h.nc.SubscribeSync(h.prefix + readySubject)
	if err != nil {
		h.t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	reqID := fmt.Sprintf("req-%d", time.Now().UnixNano())
	e := ce.New()
	e.SetID(reqID)
	e.SetSource("/test")
	e.SetType(event.TypeDatasetRequested)
	_ = e.SetData(ce.ApplicationJSON, event.DatasetRequested{RequestID: reqID, Features: h.refs, LabelStream: stream, Start: snaps[0].asOf.Add(-time.Second), End: snaps[len(snaps)-1].asOf.Add(time.Second)})
	subject, _ := event.Subject(event.TypeDatasetRequested)
	msg, err := event.ToNATSMsg(e, h.prefix+subject)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.js.PublishMsg(ctx, msg); err != nil {
		h.t.Fatal(err)
	}
	// Each attempt reads one message; the subscription keeps the others.
	var ready event.DatasetReady
	testkit.Eventually(h.t, 60*time.Second, func() error {
		m, err := sub.NextMsg(time.Second)
		if err != nil {
			return fmt.Errorf("no dataset.ready: %w", err)
		}
		re, err := event.FromNATSMsg(m)
		if err != nil {
			h.t.Fatal(err)
		}
		ready = event.DatasetReady{}
		if err := json.Unmarshal(re.Data(), &ready); err != nil {
			h.t.Fatal(err)
		}
		if ready.RequestID != reqID {
			return fmt.Errorf("no dataset.ready for %s: one for %s", reqID, ready.RequestID)
		}
		return nil
	})
	obj, err := h.js.ObjectStore(ctx, ready.Bucket)
	if err != nil {
		h.t.Fatal(err)
	}
	b, err := obj.GetBytes(ctx, ready.ObjectName)
	if err != nil {
		h.t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		h.t.Fatal(err)
	}
	rows := readParquet(h.t, pf)
	out := map[string]map[string]any{}
	for _, r := range rows {
		var ms int64
		switch t := r["event_time"].(type) {
		case time.Time:
			ms = t.UnixMilli()
		case int64:
			ms = t
		default:
			h.t.Fatalf("event_time column holds %T", r["event_time"])
		}
		out[fmt.Sprintf("%s|%d", r["entity_key"], ms)] = r
	}
	if int(ready.RowCount) != len(rows) {
		h.t.Errorf("row_count %d, parquet has %d rows", ready.RowCount, len(rows))
	}
	return ready, out
}

// equal compares an online value (from JSON) with a Parquet cell.
func equal(online api.Value, offline any) bool {
	switch v := online.Value.(type) {
	case nil:
		return offline == nil
	case json.Number:
		switch o := offline.(type) {
		case float64:
			f, err := v.Float64()
			return err == nil && f == o
		case int64:
			i, err := v.Int64()
			return err == nil && i == o
		}
		return false
	case string:
		switch o := offline.(type) {
		case string:
			return v == o
		case []byte:
			return v == string(o)
		}
	}
	return false
}

// TestOnlineEqualsOffline is the headline test: thousands of clicks with
// out-of-order arrivals (some beyond the lateness), online reads at several
// instants, and a training set for the same (entity, instant) pairs built
// over NATS from ClickHouse: every value equal. The rows at the first
// instants are built after later events were stored: nothing leaks.
func TestOnlineEqualsOffline(t *testing.T) {
	h := newHarness(t)
	p := h.start()
	h.apply()
	waitView(t, p)
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	h.produce(h.randomClicks(r, 2500, now.Add(-2*time.Hour), now))
	h.caughtUp(60 * time.Second)
	snaps := []snapshot{h.snapshot(p)}
	for range 2 {
		// The next clicks are strictly after the last read, and spread
		// over 300ms: a wait for time to pass, not for a condition.
		from := snaps[len(snaps)-1].asOf.Add(time.Millisecond)
		time.Sleep(300 * time.Millisecond)
		h.produce(h.randomClicks(r, 400, from, time.Now()))
		h.caughtUp(60 * time.Second)
		snaps = append(snaps, h.snapshot(p))
	}
	// Unknown entity: nulls.
	unknown := h.read(p, []string{"nobody"}).Results[0]
	for ref, v := range unknown.Values {
		if v.Value != nil || v.EventTime != nil {
			t.Errorf("unknown entity %s: %+v", ref, v)
		}
	}
	ready, rows := h.dataset("test_labels", snaps)
	if ready.RowCount != int64(len(snaps)*len(h.users)) {
		t.Errorf("row count %d, want %d", ready.RowCount, len(snaps)*len(h.users))
	}
	if ready.FeatureDefinitions["uc"] != h.view.Version || len(ready.SHA256) != 64 {
		t.Errorf("ready: %+v", ready)
	}
	checked, nonNull := 0, 0
	for _, s := range snaps {
		for _, u := range h.users {
			row, ok := rows[fmt.Sprintf("%s|%d", u, s.asOf.UnixMilli())]
			if !ok {
				t.Fatalf("no training row for %s at %s", u, s.asOf)
			}
			for _, ref := range h.refs {
				on := s.vals[u][ref]
				if !equal(on, row[ref]) {
					t.Errorf("%s %s at %s: online %v, offline %v (%T)", u, ref, s.asOf.Format(time.RFC3339Nano), on.Value, row[ref], row[ref])
				}
				checked++
				if on.Value != nil {
					nonNull++
				}
			}
		}
	}
	t.Logf("%d values compared (%d non-null) over %d instants", checked, nonNull, len(snaps))
	if nonNull < checked/2 {
		t.Errorf("only %d of %d values non-null: the test proves little", nonNull, checked)
	}
	// Events beyond the lateness were dead-lettered, and counted.
	late := countDLQ(t, h, reason.LateEvent)
	if late == 0 {
		t.Error("no late event dead-lettered; the shuffle should produce some")
	}
	t.Logf("%d late events dead-lettered", late)
}

func waitView(t testing.TB, p *servicetest.Process) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, func() error {
		if code, _ := p.Get("/v1/features/uc/x"); code != 200 {
			return fmt.Errorf("view uc not picked up: GET answers %d", code)
		}
		return nil
	})
}

func countDLQ(t testing.TB, h *harness, why reason.ID) int {
	t.Helper()
	n := 0
	for _, l := range readDLQ(t, h) {
		if l.Reason == why {
			n++
		}
	}
	return n
}

// readParquet reads a flat Parquet file into maps by column name.
func readParquet(t testing.TB, pf *parquet.File) []map[string]any {
	t.Helper()
	fields := pf.Schema().Fields()
	var out []map[string]any
	for _, rg := range pf.RowGroups() {
		rr := rg.Rows()
		buf := make([]parquet.Row, 64)
		for {
			n, err := rr.ReadRows(buf)
			for _, row := range buf[:n] {
				m := map[string]any{}
				for _, v := range row {
					name := fields[v.Column()].Name()
					switch {
					case v.IsNull():
						m[name] = nil
					case v.Kind() == parquet.Double:
						m[name] = v.Double()
					case v.Kind() == parquet.Int64:
						m[name] = v.Int64()
					case v.Kind() == parquet.Boolean:
						m[name] = v.Boolean()
					case v.Kind() == parquet.ByteArray:
						m[name] = string(v.ByteArray())
					default:
						t.Fatalf("column %s: kind %v", name, v.Kind())
					}
				}
				out = append(out, m)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		_ = rr.Close()
	}
	return out
}

// TestRestartNothingDoubleCounted stops the service mid-stream, rewinds the
// consumer group to the start (a replay of every record already applied, as
// after a crash before the commit), restarts it and checks every count
// against the clicks produced, and every value against the training set.
func TestRestartNothingDoubleCounted(t *testing.T) {
	h := newHarness(t)
	p := h.start()
	h.apply()
	waitView(t, p)
	r := rand.New(rand.NewPCG(3, 4))
	now := time.Now()
	clicks := h.randomClicks(r, 3000, now.Add(-30*time.Minute), now) // shuffled within the 10m lateness
	h.produce(clicks)
	// Stop once some, not all, batches are committed.
	ctx := context.Background()
	testkit.Eventually(t, 30*time.Second, func() error {
		committed, err := h.adm.FetchOffsets(ctx, h.group)
		if err != nil {
			return fmt.Errorf("nothing committed: %w", err)
		}
		var n int64
		committed.Each(func(o kadm.OffsetResponse) { n += o.At })
		if n == 0 {
			return errors.New("nothing committed")
		}
		t.Logf("stopping after %d of %d records committed", n, len(clicks))
		return nil
	})
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	// Rewind: every record is delivered again.
	offsets := kadm.Offsets{}
	for part := range int32(3) {
		offsets.Add(kadm.Offset{Topic: h.prefix + event.EventsTopic("clicks"), Partition: part, At: 0, LeaderEpoch: -1})
	}
	if _, err := h.adm.CommitOffsets(ctx, h.group, offsets); err != nil {
		t.Fatal(err)
	}
	p = h.start()
	h.caughtUp(60 * time.Second)
	snap := h.snapshot(p)
	want := map[string]int64{}
	for _, c := range clicks {
		want[c.User]++
	}
	for _, u := range h.users {
		got, err := snap.vals[u]["uc:clicks_1d"].Value.(json.Number).Int64()
		if err != nil || got != want[u] {
			t.Errorf("%s: clicks_1d %v, produced %d", u, snap.vals[u]["uc:clicks_1d"].Value, want[u])
		}
	}
	_, rows := h.dataset("restart_labels", []snapshot{snap})
	for _, u := range h.users {
		row := rows[fmt.Sprintf("%s|%d", u, snap.asOf.UnixMilli())]
		for _, ref := range h.refs {
			if !equal(snap.vals[u][ref], row[ref]) {
				t.Errorf("%s %s: online %v, offline %v", u, ref, snap.vals[u][ref].Value, row[ref])
			}
		}
	}
}

// TestReadAPIErrors checks the answers to bad reads.
func TestReadAPIErrors(t *testing.T) {
	h := newHarness(t)
	p := h.start()
	h.apply()
	waitView(t, p)
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"unknown feature", "POST", "/v1/features", `{"entities":["a"],"features":["uc:clicks_1h","uc:nope"]}`, 400, `uc:nope`},
		{"unknown view", "POST", "/v1/features", `{"entities":["a"],"features":["zz:clicks_1h"]}`, 400, `{"error":"unknown view \"zz\" in \"zz:clicks_1h\"","reason":"unknown_view"}`},
		{"not a ref", "POST", "/v1/features", `{"entities":["a"],"features":["clicks_1h"]}`, 400, `not view:feature`},
		{"no entities", "POST", "/v1/features", `{"entities":[],"features":["uc:clicks_1h"]}`, 400, `entities: empty`},
		{"malformed", "POST", "/v1/features", `{"entities":`, 400, `"reason":"malformed_request"`},
		{"trailing data", "POST", "/v1/features", `{"entities":["a"],"features":["uc:clicks_1h"]} {}`, 400, `"reason":"malformed_request"`},
		{"no method", "DELETE", "/v1/features", ``, 405, `"reason":"method_not_allowed"`},
		{"unknown key", "POST", "/v1/features", `{"entities":["a"],"features":["uc:clicks_1h"],"x":1}`, 400, `unknown field`},
		{"GET unknown view", "GET", "/v1/features/zz/a", ``, 400, `unknown view \"zz\"`},
		{"GET unknown entity", "GET", "/v1/features/uc/nobody", ``, 200, `"last_page":{"value":null,"event_time":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, p.URL+tc.path, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) {
				t.Errorf("%d %s, want %d containing %s", resp.StatusCode, b, tc.code, tc.want)
			}
		})
	}
	many := make([]string, api.MaxEntities+1)
	b, _ := json.Marshal(api.Request{Entities: many, Features: []string{"uc:clicks_1h"}})
	resp, err := http.Post(p.URL+"/v1/features", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("%d entities: %d", len(many), resp.StatusCode)
	}
}

// TestBackfillNewView stores clicks before any view reads them, then applies
// the view: the service backfills it from ClickHouse, and the values equal
// the clicks produced and the training set.
func TestBackfillNewView(t *testing.T) {
	h := newHarness(t)
	p := h.start()
	r := rand.New(rand.NewPCG(5, 6))
	now := time.Now()
	clicks := h.randomClicks(r, 1500, now.Add(-20*time.Minute), now)
	h.produce(clicks)
	h.caughtUp(60 * time.Second) // stored in ClickHouse, applied to no view
	h.apply()
	waitView(t, p)
	want := map[string]int64{}
	for _, c := range clicks {
		want[c.User]++
	}
	var snap snapshot
	testkit.Eventually(t, 30*time.Second, func() error {
		snap = h.snapshot(p)
		if v, ok := snap.vals[h.users[0]]["uc:clicks_1d"].Value.(json.Number); !ok || v.String() != fmt.Sprint(want[h.users[0]]) {
			return fmt.Errorf("not backfilled: %s clicks_1d %v, want %d", h.users[0], snap.vals[h.users[0]]["uc:clicks_1d"].Value, want[h.users[0]])
		}
		return nil
	})
	// New clicks after the backfill count once, on top; their times are
	// after the read, in the 50ms that follow it (a wait for time to pass).
	time.Sleep(50 * time.Millisecond)
	more := h.randomClicks(r, 300, snap.asOf.Add(time.Millisecond), time.Now())
	h.produce(more)
	for _, c := range more {
		want[c.User]++
	}
	h.caughtUp(30 * time.Second)
	snap = h.snapshot(p)
	for _, u := range h.users {
		if got := snap.vals[u]["uc:clicks_1d"].Value; fmt.Sprint(got) != fmt.Sprint(want[u]) {
			t.Errorf("%s: clicks_1d %v, produced %d", u, got, want[u])
		}
	}
	_, rows := h.dataset("backfill_labels", []snapshot{snap})
	for _, u := range h.users {
		row := rows[fmt.Sprintf("%s|%d", u, snap.asOf.UnixMilli())]
		for _, ref := range h.refs {
			if !equal(snap.vals[u][ref], row[ref]) {
				t.Errorf("%s %s: online %v, offline %v", u, ref, snap.vals[u][ref].Value, row[ref])
			}
		}
	}
}

// TestDefinitionsLive changes, breaks and deletes the view in the bucket
// while the service runs: each change takes effect without a restart, and an
// invalid entry is ignored (the previous definition stays).
func TestDefinitionsLive(t *testing.T) {
	h := newHarness(t)
	p := h.start()
	h.apply()
	waitView(t, p)
	ctx := context.Background()
	kv, err := h.js.KeyValue(ctx, h.prefix+natsx.BucketFeatures)
	if err != nil {
		t.Fatal(err)
	}
	version := func() (int, string) {
		code, body := p.Get("/v1/features/uc/x")
		var v api.ViewResponse
		_ = json.Unmarshal(body, &v)
		return code, v.Version
	}
	waitFor := func(what string, ok func(code int, version string) bool) {
		t.Helper()
		testkit.Eventually(t, 10*time.Second, func() error {
			if code, v := version(); !ok(code, v) {
				return fmt.Errorf("%s: GET answers %d version %s", what, code, v)
			}
			return nil
		})
	}
	if _, v := version(); v != h.view.Version {
		t.Fatalf("version %s, applied %s", v, h.view.Version)
	}
	changed, err := featurespec.Parse([]byte(strings.Replace(testSpec, "ttl: 1d", "ttl: 2d", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := featurespec.Apply(ctx, kv, changed, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor("changed", func(code int, v string) bool { return code == 200 && v == changed[0].Version })
	// A tampered entry is refused; the last good definition stays.
	if _, err := kv.Put(ctx, "view.uc", []byte(`{"name":"uc","version":"x","definition":{"name":"uc"}}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Never(t, 200*time.Millisecond, func() error { // the answer must not change
		if code, v := version(); code != 200 || v != changed[0].Version {
			return fmt.Errorf("after an invalid entry: %d %s", code, v)
		}
		return nil
	})
	if err := kv.Delete(ctx, "view.uc"); err != nil {
		t.Fatal(err)
	}
	waitFor("deleted", func(code int, _ string) bool { return code == 400 })
}

// TestPoisonRecords sends records no view can read: each is dead-lettered
// with its reason, the good click beside them is applied, and the consumer
// goes on.
func TestPoisonRecords(t *testing.T) {
	h := newHarness(t)
	p := h.start()
	h.apply()
	waitView(t, p)
	topic := h.prefix + event.EventsTopic("clicks")
	garbage := &kgo.Record{Topic: topic, Key: []byte("user-00"), Value: []byte("not a cloudevent")}
	noTime := h.record(topic, "no-time", "user-00", "com.example.shop.click.v1", map[string]any{"user_id": "user-00", "price": 1.0})
	badLabel := h.record(h.prefix+event.TopicLabels, "bad-label", "user-00", event.TypeLabelRecorded, map[string]any{"stream": "x"})
	if err := h.kafka.ProduceSync(context.Background(), garbage, noTime, badLabel).FirstErr(); err != nil {
		t.Fatal(err)
	}
	h.produce([]click{{User: "user-00", At: time.Now().Add(-time.Second), Price: 2, Item: "i", Page: "cart"}})
	h.caughtUp(30 * time.Second)
	for why, want := range map[reason.ID]int{reason.UndecodableEvent: 1, reason.BadEventData: 1, reason.BadLabel: 1} {
		if got := countDLQ(t, h, why); got != want {
			t.Errorf("%s: %d dead letters, want %d", why, got, want)
		}
	}
	snap := h.snapshot(p)
	if v := snap.vals["user-00"]["uc:clicks_1d"].Value; fmt.Sprint(v) != "1" {
		t.Errorf("clicks_1d %v, want 1 (the good click only)", v)
	}
	if v := snap.vals["user-00"]["uc:spend_1d"].Value; fmt.Sprint(v) != "2" {
		t.Errorf("spend_1d %v, want 2", v)
	}
}
