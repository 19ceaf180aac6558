package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tributary-ml/tributary/libs/httperror"
)

// servicePorts are the default ports of the six services on one machine
// (deploy/local/run.sh).
var servicePorts = map[string]int{"ingest": 8081, "features": 8082, "trainer": 8083, "registry": 8084, "serving": 8085, "monitor": 8086}

// registerServiceURL registers -<service>.url, whose environment variable is
// TRIBUTARY_<SERVICE>_URL.
func registerServiceURL(fs *flag.FlagSet, p *string, service string) {
	fs.StringVar(p, service+".url", fmt.Sprintf("http://127.0.0.1:%d", servicePorts[service]), "Base URL of the "+service+" service's HTTP API.")
}

// checkServiceURL checks and trims a -<service>.url value.
func checkServiceURL(service, raw string) (string, error) {
	if _, err := url.ParseRequestURI(raw); err != nil || !strings.HasPrefix(raw, "http") {
		return "", fmt.Errorf("-%s.url %q: want an http(s) URL", service, raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// serviceHTTP calls one service's HTTP API. Its errors name the service and
// its address, so that a user knows which one did not answer.
type serviceHTTP struct {
	name   string
	base   string
	apiKey string // sent as a bearer token when set
	hc     *http.Client
}

// call sends body as JSON (when not nil), and decodes a 2xx answer into out
// (when not nil); it returns the answer's body. An error answer becomes an
// error with its status, reason and message (libs/httperror).
func (c serviceHTTP) call(ctx context.Context, method, path string, body, out any) ([]byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.wrap(unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		if err := httperror.Check(resp); err != nil {
			return nil, c.wrap(fmt.Errorf("%s %s: %w", method, path, err))
		}
		return nil, c.wrap(fmt.Errorf("%s %s: unexpected answer %s", method, path, resp.Status))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, c.wrap(fmt.Errorf("%s %s: read answer: %w", method, path, err))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, c.wrap(fmt.Errorf("%s %s: decode answer: %w", method, path, err))
		}
	}
	return raw, nil
}

// text GETs a path and returns the body of a 200 answer.
func (c serviceHTTP) text(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", c.wrap(unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", c.wrap(fmt.Errorf("GET %s: read answer: %w", path, err))
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), c.wrap(fmt.Errorf("GET %s: %s", path, resp.Status))
	}
	return string(b), nil
}

func (c serviceHTTP) wrap(err error) error {
	return fmt.Errorf("%s at %s: %w", c.name, c.base, err)
}

// unwrapURLError drops the *url.Error layer (which repeats the URL the
// service's address already names).
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
