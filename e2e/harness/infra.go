package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// Addrs are the addresses of the four infrastructure servers, as the
// services' TRIBUTARY_* environment variables take them.
type Addrs struct {
	KafkaBrokers   string // host:port[,host:port]
	NATSURL        string // nats://host:port
	RedisAddr      string // host:port
	ClickHouseAddr string // host:port of the native protocol
}

// Env returns the addresses as environment variables for the services.
func (a Addrs) Env() []string {
	return []string{
		"TRIBUTARY_KAFKA_BROKERS=" + a.KafkaBrokers,
		"TRIBUTARY_NATS_URL=" + a.NATSURL,
		"TRIBUTARY_REDIS_ADDR=" + a.RedisAddr,
		"TRIBUTARY_CLICKHOUSE_ADDR=" + a.ClickHouseAddr,
	}
}

// Infra is a running set of infrastructure servers.
type Infra struct {
	Mode  string
	Addrs Addrs
	stop  func(context.Context) error
}

// Stop stops what StartInfra started; servers it found running are left alone.
func (i *Infra) Stop(ctx context.Context) error {
	if i.stop == nil {
		return nil
	}
	return i.stop(ctx)
}

// Modes of TRIBUTARY_E2E_INFRA.
const (
	ModeAuto       = "auto"
	ModeLocal      = "local"
	ModeContainers = "containers"
	ModeExternal   = "external"
)

// StartInfra provides the infrastructure in the mode named by
// TRIBUTARY_E2E_INFRA (see the package documentation). Progress goes to log.
func StartInfra(ctx context.Context, root string, log io.Writer) (*Infra, error) {
	mode := os.Getenv("TRIBUTARY_E2E_INFRA")
	if mode == "" {
		mode = ModeAuto
	}
	if mode == ModeAuto {
		mode = ModeLocal
		if err := dockerHealth(ctx); err == nil {
			mode = ModeContainers
		} else {
			fmt.Fprintf(log, "e2e: no Docker engine (%v): using the local stack\n", err)
		}
	}
	switch mode {
	case ModeLocal:
		return startLocal(ctx, root, log)
	case ModeContainers:
		return startContainers(ctx, log)
	case ModeExternal:
		return &Infra{Mode: ModeExternal, Addrs: addrsFromEnv()}, nil
	default:
		return nil, fmt.Errorf("TRIBUTARY_E2E_INFRA=%q: want auto, local, containers or external", mode)
	}
}

// dockerHealth reports whether a Docker engine answers; without one it fails
// at once.
func dockerHealth(ctx context.Context) error {
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return err
	}
	defer p.Close() //nolint:errcheck // a failed close of a health probe changes nothing
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return p.Health(ctx)
}

func addrsFromEnv() Addrs {
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	return Addrs{
		KafkaBrokers:   get("TRIBUTARY_KAFKA_BROKERS", "127.0.0.1:9092"),
		NATSURL:        get("TRIBUTARY_NATS_URL", "nats://127.0.0.1:4222"),
		RedisAddr:      get("TRIBUTARY_REDIS_ADDR", "127.0.0.1:6379"),
		ClickHouseAddr: get("TRIBUTARY_CLICKHOUSE_ADDR", "127.0.0.1:9000"),
	}
}

// listening reports whether every address accepts TCP connections.
func (a Addrs) listening() bool {
	for _, hp := range []string{strings.Split(a.KafkaBrokers, ",")[0], strings.TrimPrefix(a.NATSURL, "nats://"), a.RedisAddr, a.ClickHouseAddr} {
		c, err := net.DialTimeout("tcp", hp, time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
	}
	return true
}
