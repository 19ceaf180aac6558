package testkit

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// Server is one of the real servers the integration tests use.
type Server string

// The servers.
const (
	Kafka      Server = "kafka"
	NATS       Server = "nats"
	Redis      Server = "redis"
	ClickHouse Server = "clickhouse"
)

// Servers lists every server.
func Servers() []Server { return []Server{Kafka, NATS, Redis, ClickHouse} }

var servers = map[Server]struct{ env, def string }{
	Kafka:      {"TRIBUTARY_KAFKA_BROKERS", "127.0.0.1:9092"},
	NATS:       {"TRIBUTARY_NATS_URL", "nats://127.0.0.1:4222"},
	Redis:      {"TRIBUTARY_REDIS_ADDR", "127.0.0.1:6379"},
	ClickHouse: {"TRIBUTARY_CLICKHOUSE_ADDR", "127.0.0.1:9000"},
}

// Env is the environment variable that points tests and services at s
// ("" for an unknown server).
func (s Server) Env() string { return servers[s].env }

// Default is the address deploy/local/infra.sh starts s on.
func (s Server) Default() string { return servers[s].def }

// Addr returns the address of s from its environment variable, as the
// services read it (a comma-separated broker list, a nats:// URL). It marks
// the test as an integration test: skipped under -short, and otherwise
// failing at once, saying what to do, when the variable is unset or the
// server does not answer a TCP dial (CI starts the servers, so a skip there
// would hide a broken setup).
func Addr(t testing.TB, s Server) string {
	t.Helper()
	cfg, ok := servers[s]
	if !ok {
		t.Fatalf("testkit.Addr: unknown server %q", s)
	}
	if testing.Short() {
		t.Skipf("integration test: needs %s", s)
	}
	v := strings.TrimSpace(os.Getenv(cfg.env))
	if v == "" {
		t.Fatalf("%s is unset: run `eval \"$(deploy/local/infra.sh env)\"` (make test does), or set it to a running %s (locally %s)", cfg.env, s, cfg.def)
	}
	if err := Dial(v); err != nil {
		t.Fatalf("%s at %s=%s: %v: start the local stack with `make infra-up`, or point %s at a running server", s, cfg.env, v, err, cfg.env)
	}
	return v
}

// Dial checks that the first host:port of addr (a comma-separated list,
// possibly of URLs) accepts a TCP connection within 2 seconds.
func Dial(addr string) error {
	host := strings.TrimSpace(strings.Split(addr, ",")[0])
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexAny(host, "/?"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 { // user:password@
		host = host[i+1:]
	}
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}

// KafkaBrokers returns the brokers of TRIBUTARY_KAFKA_BROKERS (see Addr).
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, b := range strings.Split(Addr(t, Kafka), ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// NATSURL returns TRIBUTARY_NATS_URL (see Addr).
func NATSURL(t testing.TB) string { t.Helper(); return Addr(t, NATS) }

// RedisAddr returns TRIBUTARY_REDIS_ADDR (see Addr).
func RedisAddr(t testing.TB) string { t.Helper(); return Addr(t, Redis) }

// ClickHouseAddr returns TRIBUTARY_CLICKHOUSE_ADDR (see Addr).
func ClickHouseAddr(t testing.TB) string { t.Helper(); return Addr(t, ClickHouse) }
