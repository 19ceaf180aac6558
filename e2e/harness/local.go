package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
)

// startLocal runs deploy/local/infra.sh up (idempotent: servers already
// running are reused) and reads the addresses from infra.sh env. The stack is
// stopped at the end only when none of it was listening before.
func startLocal(ctx context.Context, root string, log io.Writer) (*Infra, error) {
	script := filepath.Join(root, "deploy", "local", "infra.sh")
	env, err := infraEnv(ctx, script)
	if err != nil {
		return nil, err
	}
	wasRunning := env.listening()

	up := exec.CommandContext(ctx, script, "up")
	up.Stdout, up.Stderr = log, log
	if err := up.Run(); err != nil {
		return nil, fmt.Errorf("%s up: %w", script, err)
	}
	inf := &Infra{Mode: ModeLocal, Addrs: env}
	if !wasRunning {
		inf.stop = func(ctx context.Context) error {
			down := exec.CommandContext(ctx, script, "down")
			down.Stdout, down.Stderr = log, log
			if err := down.Run(); err != nil {
				return fmt.Errorf("%s down: %w", script, err)
			}
			return nil
		}
	}
	return inf, nil
}

// infraEnv parses the `export NAME=value` lines of infra.sh env.
func infraEnv(ctx context.Context, script string) (Addrs, error) {
	out, err := exec.CommandContext(ctx, script, "env").Output()
	if err != nil {
		return Addrs{}, fmt.Errorf("%s env: %w", script, err)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				vars[k] = strings.Trim(v, `"'`)
			}
		}
	}
	a := Addrs{
		KafkaBrokers:   vars["TRIBUTARY_KAFKA_BROKERS"],
		NATSURL:        vars["TRIBUTARY_NATS_URL"],
		RedisAddr:      vars["TRIBUTARY_REDIS_ADDR"],
		ClickHouseAddr: vars["TRIBUTARY_CLICKHOUSE_ADDR"],
	}
	if a.KafkaBrokers == "" || a.NATSURL == "" || a.RedisAddr == "" || a.ClickHouseAddr == "" {
		return Addrs{}, fmt.Errorf("%s env printed no complete set of TRIBUTARY_* addresses: %q", script, out)
	}
	return a, nil
}
