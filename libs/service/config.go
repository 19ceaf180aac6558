package service

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config is the configuration of the runtime itself: the HTTP server, logs,
// shutdown and tracing. A service's own configuration sits beside it (see
// Program.Config).
type Config struct {
	// HTTPAddr is where the one HTTP server of the service listens: the
	// app's API, /metrics, /healthz and /readyz.
	HTTPAddr string
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// ShutdownTimeout bounds the whole graceful shutdown.
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long /readyz reports not ready before the service
	// stops taking requests (see RegisterFlags).
	ShutdownDelay time.Duration
	Tracing       TracingConfig
}

// TracingConfig says where traces go. Tracing is off when OTLPEndpoint is
// empty.
type TracingConfig struct {
	// OTLPEndpoint is an OTLP/HTTP collector: host:port, or a URL such as
	// http://collector:4318/v1/traces.
	OTLPEndpoint string
	// OTLPInsecure sends to a host:port endpoint over plain HTTP instead of
	// HTTPS. A URL endpoint's scheme decides by itself.
	OTLPInsecure bool
	// SampleRatio is the fraction of new traces sampled, 0 to 1; a span whose
	// parent was sampled is always sampled.
	SampleRatio float64
}

// RegisterFlags registers the runtime's flags. defaultHTTPAddr is the
// service's own port, such as ":8081".
func (c *Config) RegisterFlags(fs *flag.FlagSet, defaultHTTPAddr string) {
	fs.StringVar(&c.HTTPAddr, "http.addr", defaultHTTPAddr, "HTTP listen address (host:port) of the API, /metrics, /healthz and /readyz.")
	fs.StringVar(&c.LogLevel, "log.level", "info", "Log level: debug, info, warn or error.")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown.timeout", 30*time.Second, "Deadline for the whole graceful shutdown after SIGTERM; a second signal forces the exit.")
	fs.DurationVar(&c.ShutdownDelay, "shutdown.delay", 0, "How long /readyz reports not ready before the service stops taking requests. "+
		"On Kubernetes set a few seconds (5s), so that endpoints and load balancers stop sending traffic before the server closes.")
	c.Tracing.RegisterFlags(fs)
}

// RegisterFlags registers the tracing flags.
func (c *TracingConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.OTLPEndpoint, "otlp.endpoint", "", "OTLP/HTTP trace collector, host:port or URL (empty: tracing off).")
	fs.BoolVar(&c.OTLPInsecure, "otlp.insecure", false, "Send traces to a host:port otlp.endpoint over plain HTTP instead of HTTPS.")
	fs.Float64Var(&c.SampleRatio, "trace.sample-ratio", 1, "Fraction of new traces to sample, 0 to 1 (children follow their parent's decision).")
}

// Validate checks the configuration. Each error starts with the name of the
// flag at fault.
func (c Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || port == "" {
		return fmt.Errorf("http.addr: %q is not host:port", c.HTTPAddr)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("shutdown.timeout: must be positive, got %v", c.ShutdownTimeout)
	}
	if c.ShutdownDelay < 0 {
		return fmt.Errorf("shutdown.delay: must not be negative, got %v", c.ShutdownDelay)
	}
	if c.ShutdownDelay >= c.ShutdownTimeout {
		return fmt.Errorf("shutdown.delay: %v leaves no time within shutdown.timeout %v", c.ShutdownDelay, c.ShutdownTimeout)
	}
	return c.Tracing.Validate()
}

// Validate checks the tracing configuration.
func (c TracingConfig) Validate() error {
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("trace.sample-ratio: %v is not between 0 and 1", c.SampleRatio)
	}
	if c.OTLPEndpoint == "" {
		return nil
	}
	if strings.Contains(c.OTLPEndpoint, "://") {
		u, err := url.Parse(c.OTLPEndpoint)
		if err != nil {
			return fmt.Errorf("otlp.endpoint: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("otlp.endpoint: %q is not an http(s) URL with a host", c.OTLPEndpoint)
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(c.OTLPEndpoint); err != nil {
		return fmt.Errorf("otlp.endpoint: %q is neither host:port nor a URL", c.OTLPEndpoint)
	}
	return nil
}

var errLevel = errors.New("want debug, info, warn or error")
