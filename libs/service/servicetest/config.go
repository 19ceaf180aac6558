package servicetest

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/service"
)

// ParseConfig registers cfg's flags on a fresh flag set, parses args into it
// and returns cfg.Validate(). A parse error fails the test.
func ParseConfig(t testing.TB, cfg service.AppConfig, args ...string) error {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return cfg.Validate()
}

// dependencyFlags names one flag that each dependency brings.
var dependencyFlags = map[string]string{
	"kafka":      "kafka.brokers",
	"nats":       "nats.url",
	"redis":      "redis.addr",
	"clickhouse": "clickhouse.addr",
}

// CheckDependencyFlags asserts that cfg registers the flags of the
// dependencies it uses ("kafka", "nats", "redis", "clickhouse") and none of
// the flags of the others.
func CheckDependencyFlags(t *testing.T, cfg service.AppConfig, uses ...string) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	used := map[string]bool{}
	for _, dep := range uses {
		if _, ok := dependencyFlags[dep]; !ok {
			t.Fatalf("unknown dependency %q", dep)
		}
		used[dep] = true
	}
	for dep, name := range dependencyFlags {
		switch registered := fs.Lookup(name) != nil; {
		case used[dep] && !registered:
			t.Errorf("flag -%s not registered", name)
		case !used[dep] && registered:
			t.Errorf("flag -%s registered, but the service does not use %s", name, dep)
		}
	}
}

// Invalid is a configuration that Validate must refuse with an error
// containing Want.
type Invalid struct {
	Name string
	Args []string
	Want string
}

// CheckInvalid parses each case into a new configuration and asserts that
// it is refused with an error naming what is wrong.
func CheckInvalid(t *testing.T, newConfig func() service.AppConfig, cases []Invalid) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			err := ParseConfig(t, newConfig(), tc.Args...)
			if err == nil || !strings.Contains(err.Error(), tc.Want) {
				t.Fatalf("want an error naming %s, got %v", tc.Want, err)
			}
		})
	}
}
