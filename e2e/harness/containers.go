package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/testcontainers/testcontainers-go"
	tcclickhouse "github.com/testcontainers/testcontainers-go/modules/clickhouse"
	tcnats "github.com/testcontainers/testcontainers-go/modules/nats"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Images of the containers mode. ClickHouse is a current release here, so
// that the containers mode checks the SQL on the newest server while the
// local stack checks it on Debian's 18.16.
const (
	kafkaImage      = "apache/kafka:4.1.1"
	natsImage       = "nats:2.12-alpine"
	redisImage      = "redis:7.4-alpine"
	clickhouseImage = "clickhouse/clickhouse-server:25.8"
)

// startContainers starts the four servers as containers and terminates them
// all when stopped (or when one of them fails to start).
func startContainers(ctx context.Context, log io.Writer) (inf *Infra, err error) {
	var started []testcontainers.Container
	stopAll := func(ctx context.Context) error {
		var errs []error
		for i := len(started) - 1; i >= 0; i-- {
			errs = append(errs, testcontainers.TerminateContainer(started[i], testcontainers.StopContext(ctx)))
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, stopAll(context.WithoutCancel(ctx)))
		}
	}()

	fmt.Fprintln(log, "e2e: starting containers", kafkaImage, natsImage, redisImage, clickhouseImage)
	kafka, brokers, err := runKafka(ctx)
	if kafka != nil {
		started = append(started, kafka)
	}
	if err != nil {
		return nil, err
	}
	nats, err := tcnats.Run(ctx, natsImage)
	if nats != nil {
		started = append(started, nats)
	}
	if err != nil {
		return nil, fmt.Errorf("run nats container: %w", err)
	}
	natsURL, err := nats.ConnectionString(ctx)
	if err != nil {
		return nil, fmt.Errorf("nats container address: %w", err)
	}
	redis, err := tcredis.Run(ctx, redisImage)
	if redis != nil {
		started = append(started, redis)
	}
	if err != nil {
		return nil, fmt.Errorf("run redis container: %w", err)
	}
	redisURL, err := redis.ConnectionString(ctx)
	if err != nil {
		return nil, fmt.Errorf("redis container address: %w", err)
	}
	ch, err := tcclickhouse.Run(ctx, clickhouseImage, tcclickhouse.WithUsername("default"), tcclickhouse.WithPassword(""))
	if ch != nil {
		started = append(started, ch)
	}
	if err != nil {
		return nil, fmt.Errorf("run clickhouse container: %w", err)
	}
	chAddr, err := ch.ConnectionHost(ctx)
	if err != nil {
		return nil, fmt.Errorf("clickhouse container address: %w", err)
	}
	return &Infra{
		Mode: ModeContainers,
		Addrs: Addrs{
			KafkaBrokers:   brokers,
			NATSURL:        natsURL,
			RedisAddr:      strings.TrimSuffix(strings.TrimPrefix(redisURL, "redis://"), "/"),
			ClickHouseAddr: chAddr,
		},
		stop: stopAll,
	}, nil
}

// runKafka starts one KRaft node of the Apache Kafka image. A client must
// reach the broker at the host's mapped port, which is known only once the
// container runs: the entrypoint waits for a file naming the advertised
// listener, which a post-start hook writes, then runs the image's own start
// script.
func runKafka(ctx context.Context) (*testcontainers.DockerContainer, string, error) {
	const listenerFile = "/tmp/advertised-listeners"
	ctr, err := testcontainers.Run(ctx, kafkaImage,
		testcontainers.WithExposedPorts("9092/tcp"),
		testcontainers.WithEnv(map[string]string{
			"KAFKA_NODE_ID":                                          "1",
			"KAFKA_PROCESS_ROLES":                                    "broker,controller",
			"KAFKA_LISTENERS":                                        "PLAINTEXT://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":                   "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                        "CONTROLLER",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                         "1@127.0.0.1:9093",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":                 "1",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR":         "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":                    "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR":            "1",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":                 "0",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                        "false",
		}),
		testcontainers.WithEntrypoint("sh", "-c"),
		testcontainers.WithCmd("while [ ! -f "+listenerFile+" ]; do sleep 0.1; done; "+
			"export KAFKA_ADVERTISED_LISTENERS=$(cat "+listenerFile+"); exec /etc/kafka/docker/run"),
		testcontainers.WithLifecycleHooks(testcontainers.ContainerLifecycleHooks{
			PostStarts: []testcontainers.ContainerHook{
				func(ctx context.Context, c testcontainers.Container) error {
					if err := wait.ForMappedPort("9092/tcp").WaitUntilReady(ctx, c); err != nil {
						return fmt.Errorf("wait for kafka port: %w", err)
					}
					hp, err := c.PortEndpoint(ctx, "9092/tcp", "")
					if err != nil {
						return fmt.Errorf("kafka port: %w", err)
					}
					if err := c.CopyToContainer(ctx, []byte("PLAINTEXT://"+hp), listenerFile, 0o644); err != nil {
						return fmt.Errorf("write kafka listener file: %w", err)
					}
					return wait.ForLog("Kafka Server started").WaitUntilReady(ctx, c)
				},
			},
		}),
	)
	if err != nil {
		return ctr, "", fmt.Errorf("run kafka container: %w", err)
	}
	hp, err := ctr.PortEndpoint(ctx, "9092/tcp", "")
	if err != nil {
		return ctr, "", fmt.Errorf("kafka container address: %w", err)
	}
	return ctr, hp, nil
}
