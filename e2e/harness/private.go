package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// Brokers are a Kafka broker and a nats-server of one test alone, started
// with deploy/local/infra.sh on free ports and a data directory of their
// own, so that the test may stop and start them; the shared servers of the
// machine are never touched.
type Brokers struct {
	KafkaBrokers string // host:port
	NATSURL      string // nats://host:port
	script       string
	env          []string
}

// StartBrokers starts the private Kafka and NATS with their data in dir.
// Stop them with Down.
func StartBrokers(ctx context.Context, root, dir string) (*Brokers, error) {
	ports := make([]int, 4)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	b := &Brokers{
		KafkaBrokers: fmt.Sprintf("127.0.0.1:%d", ports[0]),
		NATSURL:      fmt.Sprintf("nats://127.0.0.1:%d", ports[2]),
		script:       filepath.Join(root, "deploy", "local", "infra.sh"),
		env: append(os.Environ(),
			"TRIBUTARY_DATA_DIR="+dir,
			"TRIBUTARY_KAFKA_PORT="+strconv.Itoa(ports[0]),
			"TRIBUTARY_KAFKA_CONTROLLER_PORT="+strconv.Itoa(ports[1]),
			"TRIBUTARY_NATS_PORT="+strconv.Itoa(ports[2]),
			"TRIBUTARY_NATS_MONITOR_PORT="+strconv.Itoa(ports[3]),
		),
	}
	if err := b.Up(ctx, "kafka", "nats"); err != nil {
		_ = b.Down(context.Background(), "kafka", "nats")
		return nil, err
	}
	return b, nil
}

// Up starts the named servers (kafka, nats) again, and waits until they
// answer.
func (b *Brokers) Up(ctx context.Context, servers ...string) error {
	return b.infra(ctx, "up", servers)
}

// Down stops the named servers; their data stays.
func (b *Brokers) Down(ctx context.Context, servers ...string) error {
	return b.infra(ctx, "down", servers)
}

func (b *Brokers) infra(ctx context.Context, action string, servers []string) error {
	cmd := exec.CommandContext(ctx, b.script, append([]string{action}, servers...)...)
	cmd.Env = b.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("infra.sh %s %v (private): %w\n%s", action, servers, err, out)
	}
	return nil
}

// With returns addrs with the private Kafka and NATS in place of theirs.
func (b *Brokers) With(addrs Addrs) Addrs {
	addrs.KafkaBrokers, addrs.NATSURL = b.KafkaBrokers, b.NATSURL
	return addrs
}
