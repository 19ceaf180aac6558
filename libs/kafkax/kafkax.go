// Package kafkax builds franz-go clients from Tributary's configuration and
// holds the Kafka plumbing shared by the services: readiness checks and the
// idempotent bootstrap of the platform's topics.
package kafkax

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/tributary-ml/tributary/libs/tlsconfig"
)

// Config says how to reach the Kafka cluster.
type Config struct {
	Brokers       string
	ClientID      string
	DialTimeout   time.Duration
	SASLMechanism string
	SASLUsername  string
	SASLPassword  string
	TLS           tlsconfig.Config
}

// RegisterFlags registers the kafka.* flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Brokers, "kafka.brokers", "127.0.0.1:9092", "Comma-separated Kafka bootstrap brokers (host:port).")
	fs.StringVar(&c.ClientID, "kafka.client-id", "", "Kafka client id (default: the service name).")
	fs.DurationVar(&c.DialTimeout, "kafka.dial-timeout", 5*time.Second, "Timeout for one connection to a broker.")
	fs.StringVar(&c.SASLMechanism, "kafka.sasl.mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL).")
	fs.StringVar(&c.SASLUsername, "kafka.sasl.username", "", "SASL user name.")
	fs.StringVar(&c.SASLPassword, "kafka.sasl.password", "", "SASL password.")
	c.TLS.RegisterFlags("kafka", fs)
}

// BrokerList returns the brokers as a slice.
func (c Config) BrokerList() []string {
	var out []string
	for _, b := range strings.Split(c.Brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Validate checks the configuration without contacting Kafka.
func (c Config) Validate() error {
	if len(c.BrokerList()) == 0 {
		return errors.New("kafka.brokers: at least one broker is required")
	}
	for _, b := range c.BrokerList() {
		if !strings.Contains(b, ":") {
			return fmt.Errorf("kafka.brokers: %q is not host:port", b)
		}
	}
	if c.DialTimeout <= 0 {
		return errors.New("kafka.dial-timeout: must be positive")
	}
	switch c.SASLMechanism {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("kafka.sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
	}
	if c.SASLMechanism != "" && c.SASLUsername == "" {
		return errors.New("kafka.sasl.username: required when kafka.sasl.mechanism is set")
	}
	if err := c.TLS.Validate(); err != nil {
		return fmt.Errorf("kafka.%w", err)
	}
	return nil
}

// Opts returns the franz-go options for the connection itself; callers append
// their producer or consumer options.
func (c Config) Opts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.BrokerList()...),
		kgo.DialTimeout(c.DialTimeout),
	}
	if c.ClientID != "" {
		opts = append(opts, kgo.ClientID(c.ClientID))
	}
	tlsCfg, err := c.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	switch c.SASLMechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha512Mechanism()))
	}
	return opts, nil
}

// NewClient builds a client. When reg is not nil, franz-go's client metrics
// are registered on it through the kprom plugin under the given namespace.
func NewClient(cfg Config, reg prometheus.Registerer, namespace string, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := cfg.Opts()
	if err != nil {
		return nil, err
	}
	if reg != nil {
		m := kprom.NewMetrics(namespace, kprom.Registerer(reg))
		opts = append(opts, kgo.WithHooks(m))
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("new kafka client: %w", err)
	}
	return cl, nil
}

// Check returns a readiness check: a metadata round trip to the cluster.
func Check(cl *kgo.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := cl.Ping(ctx); err != nil {
			return fmt.Errorf("kafka ping: %w", err)
		}
		return nil
	}
}
