package deps_test

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/tributary-ml/tributary/libs/chx"
	"github.com/tributary-ml/tributary/libs/kafkax"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/libs/natsx/natstest"
	"github.com/tributary-ml/tributary/libs/redisx"
	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/deps"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
	"github.com/tributary-ml/tributary/libs/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// appConfig is a service configuration using the dependencies in use.
type appConfig struct {
	use        map[string]bool
	Kafka      kafkax.Config
	NATS       natsx.Config
	Redis      redisx.Config
	ClickHouse chx.Config
}

func (c *appConfig) deps() deps.Config {
	var d deps.Config
	if c.use["kafka"] {
		d.Kafka = &c.Kafka
	}
	if c.use["nats"] {
		d.NATS = &c.NATS
	}
	if c.use["redis"] {
		d.Redis = &c.Redis
	}
	if c.use["clickhouse"] {
		d.ClickHouse = &c.ClickHouse
	}
	return d
}

func (c *appConfig) RegisterFlags(fs *flag.FlagSet) { c.deps().RegisterFlags(fs) }
func (c *appConfig) Validate() error                { return c.deps().Validate() }

type idleApp struct{}

func (idleApp) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// program is a service using the named dependencies; the clients it
// connected end up in *clients.
func program(clients *atomic.Pointer[deps.Clients], use ...string) service.Program {
	cfg := &appConfig{use: map[string]bool{}}
	for _, u := range use {
		cfg.use[u] = true
	}
	return service.Program{
		Name:     "depstest",
		HTTPAddr: ":0",
		Config:   cfg,
		New: func(_ context.Context, rt *service.Runtime) (service.App, error) {
			c, err := deps.Connect(rt, cfg.deps())
			if err != nil {
				return nil, err
			}
			clients.Store(c)
			return idleApp{}, nil
		},
	}
}

func TestConnectAllReady(t *testing.T) {
	servicetest.RequireServers(t, "kafka", "nats", "redis", "clickhouse")
	var clients atomic.Pointer[deps.Clients]
	p := servicetest.Start(t, program(&clients, "kafka", "nats", "redis", "clickhouse"))
	p.WaitReady(20 * time.Second)

	_, body := p.Get("/readyz")
	checks := servicetest.ReadyzChecks(t, body)
	for _, name := range []string{"kafka", "nats", "redis", "clickhouse"} {
		if e, ok := checks[name]; !ok || e != "" {
			t.Errorf("check %s: present %v, error %q", name, ok, e)
		}
	}
	c := clients.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, js, err := c.NATS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(ctx); err != nil || !nc.IsConnected() {
		t.Errorf("nats connection not usable: connected %v, %v", nc.IsConnected(), err)
	}
	if id, _ := c.Kafka.OptValue(kgo.ClientID).(string); id != "depstest" {
		t.Errorf("kafka client id %q, want the service name", id)
	}
	if err := c.Redis.Ping(ctx).Err(); err != nil {
		t.Error(err)
	}
	_, metrics := p.Get("/metrics")
	if !strings.Contains(string(metrics), "tributary_depstest_kafka_") {
		t.Error("/metrics has no franz-go metrics named tributary_depstest_kafka_*")
	}

	if code := p.Stop(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d; logs:\n%s", code, p.Logs())
	}
	var closed []string
	for _, r := range p.Records() {
		if r["msg"] == "closed" {
			closed = append(closed, fmt.Sprint(r["name"]))
		}
	}
	if got, want := strings.Join(closed, ","), "clickhouse,redis,nats,kafka,tracing"; got != want {
		t.Errorf("closed %s, want %s (reverse order of connection)", got, want)
	}
}

func TestDeadDependencyNotReady(t *testing.T) {
	var clients atomic.Pointer[deps.Clients]
	p := servicetest.Start(t, program(&clients, "redis"), "-redis.addr", "127.0.0.1:1", "-redis.dial-timeout", "500ms")
	body := p.WaitReadyz(10*time.Second, 503)
	checks := servicetest.ReadyzChecks(t, body)
	if e := checks["redis"]; !strings.Contains(e, "redis") {
		t.Errorf("/readyz does not name redis as failing: %s", body)
	}
	rec := p.WaitLog(10*time.Second, func(r map[string]any) bool { return r["msg"] == "not ready" })
	if !strings.Contains(fmt.Sprint(rec["failing"]), "redis") {
		t.Errorf("not-ready log does not name redis: %v", rec)
	}
	if code := p.Stop(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d; logs:\n%s", code, p.Logs())
	}
}

func TestKafkaClientIDFlagWins(t *testing.T) {
	var clients atomic.Pointer[deps.Clients]
	p := servicetest.Start(t, program(&clients, "kafka"), "-kafka.brokers", "127.0.0.1:1", "-kafka.client-id", "custom")
	if id, _ := clients.Load().Kafka.OptValue(kgo.ClientID).(string); id != "custom" {
		t.Errorf("kafka client id %q, want custom", id)
	}
	if code := p.Stop(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d; logs:\n%s", code, p.Logs())
	}
}

func TestNATSComingUpLater(t *testing.T) {
	port := testkit.FreePort(t)
	var clients atomic.Pointer[deps.Clients]
	p := servicetest.Start(t, program(&clients, "nats"), "-nats.url", "nats://127.0.0.1:"+strconv.Itoa(port))

	body := p.WaitReadyz(10*time.Second, 503)
	if e := servicetest.ReadyzChecks(t, body)["nats"]; e == "" {
		t.Fatalf("/readyz does not name nats as failing: %s", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := clients.Load().NATS(ctx); err == nil {
		t.Fatal("NATS returned a connection while the server is down")
	}

	natstest.Start(t, func(o *server.Options) { o.Port = port })

	p.WaitReady(15 * time.Second)
	p.WaitLog(time.Second, func(r map[string]any) bool { return r["msg"] == "nats connected" })
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if _, js, err := clients.Load().NATS(ctx2); err != nil {
		t.Fatal(err)
	} else if _, err := js.AccountInfo(ctx2); err != nil {
		t.Fatal(err)
	}
	if code := p.Stop(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d; logs:\n%s", code, p.Logs())
	}
}

func TestNotUsed(t *testing.T) {
	var clients atomic.Pointer[deps.Clients]
	p := servicetest.Start(t, program(&clients))
	if _, _, err := clients.Load().NATS(context.Background()); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("NATS of a service without NATS: %v", err)
	}
	p.WaitReady(5 * time.Second)
	if code := p.Stop(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
