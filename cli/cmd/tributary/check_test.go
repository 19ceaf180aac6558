package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/natsx/natstest"
)

func TestParseCheckFlags(t *testing.T) {
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    [4]bool // kafka, nats, redis, clickhouse
		check   func(t *testing.T, o checkOptions)
		wantErr string
	}{
		{name: "no selector checks all", want: [4]bool{true, true, true, true}},
		{name: "selectors", args: []string{"-redis", "-nats"}, want: [4]bool{false, true, true, false}},
		{
			name: "addresses from the environment", args: []string{"-clickhouse"},
			env:  map[string]string{"TRIBUTARY_CLICKHOUSE_ADDR": "127.0.0.1:19000", "TRIBUTARY_WAIT": "3s"},
			want: [4]bool{false, false, false, true},
			check: func(t *testing.T, o checkOptions) {
				if o.clickhouseCfg.Addr != "127.0.0.1:19000" || o.wait != 3*time.Second {
					t.Errorf("addr %q wait %s, want the environment's 127.0.0.1:19000 and 3s", o.clickhouseCfg.Addr, o.wait)
				}
			},
		},
		{
			name: "flag beats environment", args: []string{"-kafka.brokers", "127.0.0.1:19092"},
			env:  map[string]string{"TRIBUTARY_KAFKA_BROKERS": "127.0.0.1:9"},
			want: [4]bool{true, true, true, true},
			check: func(t *testing.T, o checkOptions) {
				if o.kafkaCfg.Brokers != "127.0.0.1:19092" {
					t.Errorf("brokers %q, want the flag's 127.0.0.1:19092", o.kafkaCfg.Brokers)
				}
			},
		},
		{name: "wait must be positive", args: []string{"-wait", "0s"}, wantErr: "-wait: must be positive"},
		{name: "stray argument", args: []string{"-redis", "kafka"}, wantErr: "unexpected arguments"},
		{name: "bad environment value", env: map[string]string{"TRIBUTARY_WAIT": "soon"}, wantErr: "TRIBUTARY_WAIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			o, err := parseCheckFlags(tt.args, env(tt.env), &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := [4]bool{o.kafka, o.nats, o.redis, o.clickhouse}; got != tt.want {
				t.Errorf("selected kafka, nats, redis, clickhouse = %v, want %v", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

func TestWaitReady(t *testing.T) {
	errDown := errors.New("connection refused")
	tests := []struct {
		name      string
		failures  int // attempts that fail before one succeeds; -1: all fail
		wait      time.Duration
		wantErr   error
		wantTries func(int) bool
	}{
		{name: "ready at once", failures: 0, wait: time.Second, wantTries: func(n int) bool { return n == 1 }},
		{name: "ready on the third attempt", failures: 2, wait: 5 * time.Second, wantTries: func(n int) bool { return n == 3 }},
		{name: "never ready", failures: -1, wait: 100 * time.Millisecond, wantErr: errDown, wantTries: func(n int) bool { return n > 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tries := 0
			probe := func(ctx context.Context) error {
				tries++
				if tt.failures < 0 || tries <= tt.failures {
					return fmt.Errorf("attempt %d: %w", tries, errDown)
				}
				return nil
			}
			start := time.Now()
			took, err := waitReady(context.Background(), probe, tt.wait, 5*time.Millisecond)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !tt.wantTries(tries) {
				t.Errorf("%d attempts", tries)
			}
			if took <= 0 || took > time.Since(start) {
				t.Errorf("reported %s, not within the %s the call took", took, time.Since(start))
			}
			if err != nil && !strings.HasPrefix(err.Error(), fmt.Sprintf("attempt %d:", tries)) {
				t.Errorf("error %q is not the last attempt's (%d)", err, tries)
			}
		})
	}
}

func TestWaitReadyKeepsTheInformativeError(t *testing.T) {
	// The attempt that the end of the wait cuts short only says that its
	// context expired; the error before it says why the server is not ready.
	tries := 0
	probe := func(ctx context.Context) error {
		tries++
		if tries == 1 {
			return errors.New("connection refused")
		}
		<-ctx.Done()
		return ctx.Err()
	}
	_, err := waitReady(context.Background(), probe, 100*time.Millisecond, time.Millisecond)
	if err == nil || err.Error() != "connection refused" {
		t.Fatalf("error %v, want the first attempt's", err)
	}
}

func TestWaitReadyStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, err := waitReady(ctx, func(context.Context) error { return errors.New("down") }, time.Minute, time.Millisecond)
	if err == nil {
		t.Fatal("no error after cancellation")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("returned %s after cancellation", d)
	}
}

func TestRoundDuration(t *testing.T) {
	for in, want := range map[time.Duration]string{
		1234567 * time.Nanosecond:  "1ms",
		999 * time.Millisecond:     "999ms",
		1849 * time.Millisecond:    "1.8s",
		63450 * time.Millisecond:   "1m3.5s",
		2500 * time.Microsecond:    "3ms",
		1000400 * time.Microsecond: "1s",
	} {
		if got := roundDuration(in).String(); got != want {
			t.Errorf("roundDuration(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestKafkaProbe(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := kafkax.Config{Brokers: c.ListenAddrs()[0], DialTimeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Two probes: the first creates the topic, the second finds it.
	for i := range 2 {
		p := &kafkaProbe{cfg: cfg, topic: healthcheckTopic}
		if err := p.Probe(ctx); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offsets, err := kadm.NewClient(cl).ListEndOffsets(ctx, healthcheckTopic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offsets.Lookup(healthcheckTopic, 0)
	if !ok || o.Err != nil || o.Offset != 2 {
		t.Errorf("end offset of %s/0 = %+v, want 2 (one record per probe)", healthcheckTopic, o)
	}
}

func TestFetchRecordRejectsAnotherValue(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := kafkax.Config{Brokers: c.ListenAddrs()[0], DialTimeout: time.Second}
	cl, err := kafkax.NewClient(cfg, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := &kgo.Record{Topic: "t", Value: []byte("written")}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := fetchRecord(ctx, cfg, rec); err != nil {
		t.Fatalf("fetch of the produced record: %v", err)
	}
	other := *rec
	other.Value = []byte("expected")
	if err := fetchRecord(ctx, cfg, &other); err == nil || !strings.Contains(err.Error(), `got value "written"`) {
		t.Fatalf("fetch with another value: %v, want a mismatch", err)
	}
}

// runNATS starts an embedded nats-server on a random loopback port.
func runNATS(t *testing.T, jetStream bool) *server.Server {
	t.Helper()
	return natstest.Start(t, func(o *server.Options) { o.JetStream = jetStream })
}

func TestNATSProbe(t *testing.T) {
	tests := []struct {
		name      string
		jetStream bool
		wantErr   string
	}{
		{name: "jetstream", jetStream: true},
		{name: "no jetstream", jetStream: false, wantErr: "jetstream account info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := runNATS(t, tt.jetStream)
			var out bytes.Buffer
			err := runCheck(context.Background(), []string{"-nats", "-nats.url", s.ClientURL(), "-wait", "300ms"}, &out, &out)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				want := regexp.MustCompile(`^nats +ready in \d+(\.\d+)?(ms|s) \(` + regexp.QuoteMeta(s.ClientURL()) + `\)\n$`)
				if !want.MatchString(out.String()) {
					t.Errorf("output %q does not match %s", out.String(), want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(out.String(), "nats        NOT ready after") {
				t.Errorf("output %q does not say that nats is not ready", out.String())
			}
		})
	}
}

func TestCheckReportsUnreachableServers(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		selector string
		args     []string
	}{
		{"kafka", []string{"-kafka.brokers", addr}},
		{"nats", []string{"-nats.url", "nats://" + addr}},
		{"redis", []string{"-redis.addr", addr}},
		{"clickhouse", []string{"-clickhouse.addr", addr}},
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"-" + tt.selector, "-wait", "300ms"}, tt.args...)
			err := runCheck(context.Background(), args, &out, &out)
			if err == nil {
				t.Fatalf("no error for %s at %s; output %q", tt.selector, addr, out.String())
			}
			if !strings.Contains(err.Error(), tt.selector+" (") || !strings.Contains(err.Error(), "not ready after") {
				t.Errorf("error %q does not name %s and its wait", err, tt.selector)
			}
			if !strings.Contains(out.String(), "NOT ready") {
				t.Errorf("output %q does not say NOT ready", out.String())
			}
		})
	}
}

// TestCheckIntegration waits for the real servers that `make test` starts.
func TestCheckIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real servers")
	}
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	brokers := get("TRIBUTARY_KAFKA_BROKERS", "127.0.0.1:9092")
	args := []string{
		"-wait", "30s",
		"-kafka.brokers", brokers,
		"-nats.url", get("TRIBUTARY_NATS_URL", "nats://127.0.0.1:4222"),
		"-redis.addr", get("TRIBUTARY_REDIS_ADDR", "127.0.0.1:6379"),
		"-clickhouse.addr", get("TRIBUTARY_CLICKHOUSE_ADDR", "127.0.0.1:9000"),
	}
	var out bytes.Buffer
	if err := runCheck(context.Background(), args, &out, &out); err != nil {
		t.Fatalf("the real servers are not ready (start them with deploy/local/infra.sh up): %v\n%s", err, out.String())
	}
	for _, name := range []string{"kafka", "nats", "redis", "clickhouse"} {
		if !regexp.MustCompile(`(?m)^` + name + ` +ready in `).MatchString(out.String()) {
			t.Errorf("no ready line for %s in:\n%s", name, out.String())
		}
	}

	// The Kafka check leaves its record behind in the healthcheck topic.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offsets, err := kadm.NewClient(cl).ListEndOffsets(ctx, healthcheckTopic)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offsets.Lookup(healthcheckTopic, 0); !ok || o.Err != nil || o.Offset < 1 {
		t.Errorf("end offset of %s/0 = %+v, want at least one record", healthcheckTopic, o)
	}
}
