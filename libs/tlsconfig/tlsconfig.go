// Package tlsconfig holds the TLS client options that every infrastructure
// client (Kafka, NATS, Redis, ClickHouse) accepts, registered under the
// client's flag prefix.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
)

// Config is the TLS part of a client's configuration. TLS is off unless
// Enabled is set.
type Config struct {
	Enabled            bool
	CAFile             string
	CertFile           string
	KeyFile            string
	ServerName         string
	InsecureSkipVerify bool
}

// RegisterFlags registers the TLS flags as <prefix>.tls.*.
func (c *Config) RegisterFlags(prefix string, fs *flag.FlagSet) {
	fs.BoolVar(&c.Enabled, prefix+".tls.enabled", false, "Connect with TLS.")
	fs.StringVar(&c.CAFile, prefix+".tls.ca-file", "", "PEM file of the certificate authorities to trust (default: the system pool).")
	fs.StringVar(&c.CertFile, prefix+".tls.cert-file", "", "PEM client certificate for mutual TLS.")
	fs.StringVar(&c.KeyFile, prefix+".tls.key-file", "", "PEM private key of the client certificate.")
	fs.StringVar(&c.ServerName, prefix+".tls.server-name", "", "Server name to verify (default: the host dialled).")
	fs.BoolVar(&c.InsecureSkipVerify, prefix+".tls.insecure-skip-verify", false, "Skip server certificate verification (testing only).")
}

// Validate reports options that cannot work together.
func (c Config) Validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("tls.cert-file and tls.key-file must be set together")
	}
	if !c.Enabled && (c.CAFile != "" || c.CertFile != "" || c.InsecureSkipVerify) {
		return errors.New("tls options are set but tls.enabled is false")
	}
	return nil
}

// Build returns the *tls.Config, or nil when TLS is off.
func (c Config) Build() (*tls.Config, error) {
	if !c.Enabled {
		return nil, nil
	}
	out := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // opt-in, documented as testing only
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read tls ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca file %s holds no PEM certificate", c.CAFile)
		}
		out.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load tls client certificate: %w", err)
		}
		out.Certificates = []tls.Certificate{cert}
	}
	return out, nil
}
