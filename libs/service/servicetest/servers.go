package servicetest

import (
	"os"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/testkit"
)

// RequireServers marks an integration test that needs the named servers
// ("kafka", "nats", "redis", "clickhouse"): it skips under -short, and
// otherwise fails at once, saying what to do, when one is not reachable. CI
// starts the servers, so a skip there would hide a broken setup. Unlike
// testkit.Addr, an unset variable means the server's local default; new
// tests get their addresses from testkit (KafkaBrokers, NATSURL, ...).
func RequireServers(t testing.TB, names ...string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("integration test: needs %s", strings.Join(names, ", "))
	}
	for _, name := range names {
		s := testkit.Server(name)
		if s.Env() == "" {
			t.Fatalf("RequireServers: unknown server %q", name)
		}
		addr := s.Default()
		if v := os.Getenv(s.Env()); v != "" {
			addr = v
		}
		if err := testkit.Dial(addr); err != nil {
			t.Fatalf("%s is not reachable at %s (%v): start the local stack with `make infra-up`, or set %s to a running server", name, addr, err, s.Env())
		}
	}
}
