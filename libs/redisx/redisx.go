// Package redisx builds go-redis clients from Tributary's configuration.
package redisx

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-ml/tributary/libs/tlsconfig"
)

// Config says how to reach Redis.
type Config struct {
	Addr         string
	Username     string
	Password     string
	DB           int
	PoolSize     int
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	TLS          tlsconfig.Config
}

// RegisterFlags registers the redis.* flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "redis.addr", "127.0.0.1:6379", "Redis address (host:port).")
	fs.StringVar(&c.Username, "redis.username", "", "Redis ACL user name.")
	fs.StringVar(&c.Password, "redis.password", "", "Redis password.")
	fs.IntVar(&c.DB, "redis.db", 0, "Redis database number.")
	fs.IntVar(&c.PoolSize, "redis.pool-size", 0, "Connection pool size (0: go-redis default, 10 per CPU).")
	fs.DurationVar(&c.DialTimeout, "redis.dial-timeout", 5*time.Second, "Timeout for connecting to Redis.")
	fs.DurationVar(&c.ReadTimeout, "redis.read-timeout", 3*time.Second, "Timeout for one Redis read.")
	fs.DurationVar(&c.WriteTimeout, "redis.write-timeout", 3*time.Second, "Timeout for one Redis write.")
	c.TLS.RegisterFlags("redis", fs)
}

// Validate checks the configuration without contacting Redis.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("redis.addr: required")
	}
	if c.DB < 0 {
		return errors.New("redis.db: must not be negative")
	}
	if c.PoolSize < 0 {
		return errors.New("redis.pool-size: must not be negative")
	}
	if err := c.TLS.Validate(); err != nil {
		return fmt.Errorf("redis.%w", err)
	}
	return nil
}

// NewClient builds a client; it does not dial until first used.
func NewClient(cfg Config) (*redis.Client, error) {
	tlsCfg, err := cfg.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return redis.NewClient(&redis.Options{
		Addr:         cfg.Addr,
		Username:     cfg.Username,
		Password:     cfg.Password,
		DB:           cfg.DB,
		PoolSize:     cfg.PoolSize,
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout,
		TLSConfig:    tlsCfg,
	}), nil
}

// Check returns a readiness check: PING.
func Check(cl *redis.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := cl.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis ping: %w", err)
		}
		return nil
	}
}
