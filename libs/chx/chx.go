// Package chx opens ClickHouse connections (clickhouse-go v2, native
// protocol) from Tributary's configuration and applies the schema migrations.
// Everything here must work on ClickHouse 18.16 and on current releases.
package chx

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tributary-ml/tributary/libs/tlsconfig"
)

// Config says how to reach ClickHouse.
type Config struct {
	Addr        string
	Database    string
	Username    string
	Password    string
	DialTimeout time.Duration
	ReadTimeout time.Duration
	TLS         tlsconfig.Config
}

// RegisterFlags registers the clickhouse.* flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "clickhouse.addr", "127.0.0.1:9000", "ClickHouse native-protocol address (host:port).")
	fs.StringVar(&c.Database, "clickhouse.database", "tributary", "ClickHouse database holding Tributary's tables.")
	fs.StringVar(&c.Username, "clickhouse.username", "default", "ClickHouse user.")
	fs.StringVar(&c.Password, "clickhouse.password", "", "ClickHouse password.")
	fs.DurationVar(&c.DialTimeout, "clickhouse.dial-timeout", 5*time.Second, "Timeout for connecting to ClickHouse.")
	fs.DurationVar(&c.ReadTimeout, "clickhouse.read-timeout", 60*time.Second, "Timeout for reading one query's answer.")
	c.TLS.RegisterFlags("clickhouse", fs)
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the configuration without contacting ClickHouse.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("clickhouse.addr: required")
	}
	if !identifier.MatchString(c.Database) {
		return fmt.Errorf("clickhouse.database: %q is not a plain identifier", c.Database)
	}
	if c.DialTimeout <= 0 || c.ReadTimeout <= 0 {
		return errors.New("clickhouse.dial-timeout and clickhouse.read-timeout: must be positive")
	}
	if err := c.TLS.Validate(); err != nil {
		return fmt.Errorf("clickhouse.%w", err)
	}
	return nil
}

// Open returns a connection pool to the configured server, connected to the
// "default" database so that the migrator can create cfg.Database; queries
// name their tables with the database. It does not dial until first used.
func Open(cfg Config) (driver.Conn, error) {
	tlsCfg, err := cfg.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{cfg.Addr},
		Auth:        clickhouse.Auth{Database: "default", Username: cfg.Username, Password: cfg.Password},
		DialTimeout: cfg.DialTimeout,
		ReadTimeout: cfg.ReadTimeout,
		TLS:         tlsCfg,
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", cfg.Addr, err)
	}
	return conn, nil
}

// Check returns a readiness check: SELECT 1.
func Check(conn driver.Conn) func(context.Context) error {
	return func(ctx context.Context) error {
		var one uint8
		if err := conn.QueryRow(ctx, "SELECT toUInt8(1)").Scan(&one); err != nil {
			return fmt.Errorf("clickhouse select 1: %w", err)
		}
		return nil
	}
}
