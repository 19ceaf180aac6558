// Package natsx connects to NATS with Tributary's configuration and holds the
// NATS plumbing shared by the services: readiness checks and the idempotent
// bootstrap of the JetStream stream, key-value buckets and object store.
package natsx

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/tlsconfig"
)

// Config says how to reach NATS.
type Config struct {
	URL         string
	CredsFile   string
	Token       string
	User        string
	Password    string
	DialTimeout time.Duration
	TLS         tlsconfig.Config
}

// RegisterFlags registers the nats.* flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "nats.url", "nats://127.0.0.1:4222", "NATS server URLs, comma-separated.")
	fs.StringVar(&c.CredsFile, "nats.creds-file", "", "NATS credentials file (JWT and nkey).")
	fs.StringVar(&c.Token, "nats.token", "", "NATS authentication token.")
	fs.StringVar(&c.User, "nats.user", "", "NATS user name.")
	fs.StringVar(&c.Password, "nats.password", "", "NATS password.")
	fs.DurationVar(&c.DialTimeout, "nats.dial-timeout", 5*time.Second, "Timeout for connecting to NATS.")
	c.TLS.RegisterFlags("nats", fs)
}

// Validate checks the configuration without contacting NATS.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("nats.url: required")
	}
	if c.DialTimeout <= 0 {
		return errors.New("nats.dial-timeout: must be positive")
	}
	if (c.User == "") != (c.Password == "") {
		return errors.New("nats.user and nats.password must be set together")
	}
	if err := c.TLS.Validate(); err != nil {
		return fmt.Errorf("nats.%w", err)
	}
	return nil
}

// Connect dials NATS. The connection reconnects forever; disconnects and
// reconnects are logged.
func Connect(cfg Config, name string, logger *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(cfg.DialTimeout),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	tlsCfg, err := cfg.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	if tlsCfg != nil {
		opts = append(opts, nats.Secure(tlsCfg))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", cfg.URL, err)
	}
	return nc, nil
}

// Check returns a readiness check: the connection is up and JetStream
// answers an account-info request.
func Check(nc *nats.Conn, js jetstream.JetStream) func(context.Context) error {
	return func(ctx context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("nats: not connected (status %s)", nc.Status())
		}
		if _, err := js.AccountInfo(ctx); err != nil {
			return fmt.Errorf("jetstream account info: %w", err)
		}
		return nil
	}
}
