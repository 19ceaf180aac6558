package service

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		var c Config
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.RegisterFlags(fs, ":8081")
		return c
	}
	for _, tc := range []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" for valid; else the flag the error must start with
	}{
		{"defaults", func(*Config) {}, ""},
		{"loopback addr", func(c *Config) { c.HTTPAddr = "127.0.0.1:0" }, ""},
		{"addr without port", func(c *Config) { c.HTTPAddr = "localhost" }, "http.addr"},
		{"empty addr", func(c *Config) { c.HTTPAddr = "" }, "http.addr"},
		{"each log level", func(c *Config) { c.LogLevel = "debug" }, ""},
		{"warn", func(c *Config) { c.LogLevel = "warn" }, ""},
		{"unknown log level", func(c *Config) { c.LogLevel = "verbose" }, "log.level"},
		{"upper-case log level", func(c *Config) { c.LogLevel = "INFO" }, "log.level"},
		{"zero shutdown timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown.timeout"},
		{"negative delay", func(c *Config) { c.ShutdownDelay = -time.Second }, "shutdown.delay"},
		{"delay eats the timeout", func(c *Config) { c.ShutdownDelay = 30 * time.Second }, "shutdown.delay"},
		{"k8s delay", func(c *Config) { c.ShutdownDelay = 5 * time.Second }, ""},
		{"otlp host:port", func(c *Config) { c.Tracing.OTLPEndpoint = "collector:4318" }, ""},
		{"otlp url", func(c *Config) { c.Tracing.OTLPEndpoint = "https://collector:4318/v1/traces" }, ""},
		{"otlp bare host", func(c *Config) { c.Tracing.OTLPEndpoint = "collector" }, "otlp.endpoint"},
		{"otlp grpc url", func(c *Config) { c.Tracing.OTLPEndpoint = "grpc://collector:4317" }, "otlp.endpoint"},
		{"sample ratio 0", func(c *Config) { c.Tracing.SampleRatio = 0 }, ""},
		{"sample ratio above 1", func(c *Config) { c.Tracing.SampleRatio = 1.5 }, "trace.sample-ratio"},
		{"negative sample ratio", func(c *Config) { c.Tracing.SampleRatio = -0.1 }, "trace.sample-ratio"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("want an error about %s, got none", tc.wantErr)
			case tc.wantErr != "" && !strings.HasPrefix(err.Error(), tc.wantErr+":"):
				t.Fatalf("error %q does not start with %s:", err, tc.wantErr)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs, ":8085")
	if c.HTTPAddr != ":8085" || c.LogLevel != "info" || c.ShutdownTimeout != 30*time.Second ||
		c.ShutdownDelay != 0 || c.Tracing.OTLPEndpoint != "" || c.Tracing.SampleRatio != 1 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}
