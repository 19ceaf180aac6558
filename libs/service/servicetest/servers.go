package servicetest

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// serverAddrs maps each infrastructure server to the environment variable
// that points tests (and services) at it, and its loopback default.
var serverAddrs = map[string]struct{ env, def string }{
	"kafka":      {"TRIBUTARY_KAFKA_BROKERS", "127.0.0.1:9092"},
	"nats":       {"TRIBUTARY_NATS_URL", "nats://127.0.0.1:4222"},
	"redis":      {"TRIBUTARY_REDIS_ADDR", "127.0.0.1:6379"},
	"clickhouse": {"TRIBUTARY_CLICKHOUSE_ADDR", "127.0.0.1:9000"},
}

// RequireServers marks an integration test that needs the named servers
// ("kafka", "nats", "redis", "clickhouse"): it skips under -short, and
// otherwise fails at once, saying what to do, when one is not reachable. CI
// starts the servers, so a skip there would hide a broken setup.
func RequireServers(t testing.TB, names ...string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("integration test: needs %s", strings.Join(names, ", "))
	}
	for _, name := range names {
		s, ok := serverAddrs[name]
		if !ok {
			t.Fatalf("RequireServers: unknown server %q", name)
		}
		addr := s.def
		if v := os.Getenv(s.env); v != "" {
			addr = v
		}
		addr = strings.TrimSpace(strings.Split(addr, ",")[0])
		if i := strings.Index(addr, "://"); i >= 0 {
			addr = addr[i+3:]
		}
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("%s is not reachable at %s (%v): start the local stack with `make infra-up`, or set %s to a running server", name, addr, err, s.env)
		}
		conn.Close()
	}
}
