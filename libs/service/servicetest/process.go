package servicetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/service"
)

// Process is a service program running in the test's process.
type Process struct {
	// URL is the base URL of the service's HTTP server, such as
	// http://127.0.0.1:40123.
	URL string

	t       testing.TB
	signals chan os.Signal
	exited  chan struct{}
	code    int // valid once exited is closed
	logs    *logBuffer
	client  *http.Client
}

// Start runs p with "-http.addr 127.0.0.1:0" followed by args (which may
// override it), with the process's environment (so TRIBUTARY_* variables,
// such as the addresses of the test infrastructure, apply), and waits until
// its HTTP server listens. It fails the test if the program exits first. At
// the end of the test a program still running gets SIGTERM and is waited for.
func Start(t testing.TB, p service.Program, args ...string) *Process {
	t.Helper()
	pr := &Process{
		t:       t,
		signals: make(chan os.Signal, 2),
		exited:  make(chan struct{}),
		logs:    newLogBuffer(),
		client:  &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	args = append([]string{"-http.addr", "127.0.0.1:0"}, args...)
	go func() {
		defer close(pr.exited)
		pr.code = p.Run(args, os.LookupEnv, io.Discard, pr.logs, pr.signals)
	}()
	t.Cleanup(func() {
		select {
		case <-pr.exited:
		default:
			pr.signals <- syscall.SIGTERM
			select {
			case <-pr.exited:
			case <-time.After(time.Minute):
				t.Errorf("%s did not stop within a minute of SIGTERM; logs:\n%s", p.Name, pr.Logs())
			}
		}
	})
	rec := pr.WaitLog(30*time.Second, func(r map[string]any) bool { return r["msg"] == "http server listening" })
	addr, _ := rec["addr"].(string)
	pr.URL = "http://" + addr
	return pr
}

// Get requests path from the service and returns the status code and body.
func (p *Process) Get(path string) (int, []byte) {
	p.t.Helper()
	resp, err := p.client.Get(p.URL + path)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("read GET %s: %v", path, err)
	}
	return resp.StatusCode, body
}

// WaitReady polls /readyz until it answers 200, and fails the test with the
// last answer if that takes longer than timeout.
func (p *Process) WaitReady(timeout time.Duration) {
	p.t.Helper()
	p.WaitReadyz(timeout, http.StatusOK)
}

// WaitReadyz polls /readyz until it answers with code, and returns the body.
func (p *Process) WaitReadyz(timeout time.Duration, code int) []byte {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, body := p.Get("/readyz")
		if got == code {
			return body
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("/readyz answered %d, not %d, for %v; last body:\n%s\nlogs:\n%s", got, code, timeout, body, p.Logs())
		}
		select {
		case <-p.exited:
			p.t.Fatalf("program exited with %d while waiting for /readyz %d; logs:\n%s", p.code, code, p.Logs())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Checks fetches /readyz and returns each check's error by name, "" for a
// check that passes.
func (p *Process) Checks() map[string]string {
	p.t.Helper()
	_, body := p.Get("/readyz")
	return ReadyzChecks(p.t, body)
}

// ReadyzChecks decodes a /readyz body into each check's error by name, ""
// for a check that passes.
func ReadyzChecks(t testing.TB, body []byte) map[string]string {
	t.Helper()
	var rep struct {
		Checks []struct {
			Name  string `json:"name"`
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	out := map[string]string{}
	for _, c := range rep.Checks {
		out[c.Name] = c.Error
		if !c.OK && c.Error == "" {
			t.Errorf("/readyz check %s failed without an error", c.Name)
		}
	}
	return out
}

// Signal sends sig to the program, as the operating system would.
func (p *Process) Signal(sig os.Signal) { p.signals <- sig }

// Wait waits for the program to exit and returns its exit code; it fails the
// test after timeout.
func (p *Process) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.code
	case <-time.After(timeout):
		p.t.Fatalf("program still running after %v; logs:\n%s", timeout, p.Logs())
		return -1
	}
}

// Stop sends SIGTERM and returns the exit code.
func (p *Process) Stop(timeout time.Duration) int {
	p.t.Helper()
	p.Signal(syscall.SIGTERM)
	return p.Wait(timeout)
}

// Logs returns everything the program has logged so far.
func (p *Process) Logs() string { return p.logs.String() }

// Records returns the program's log records, parsed.
func (p *Process) Records() []map[string]any { return p.logs.records() }

// WaitLog waits until the program logs a record that match accepts and
// returns it; it fails the test after timeout or when the program exits.
func (p *Process) WaitLog(timeout time.Duration, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		changed := p.logs.changed()
		for _, r := range p.logs.records() {
			if match(r) {
				return r
			}
		}
		select {
		case <-changed:
		case <-p.exited:
			for _, r := range p.logs.records() { // the last lines may have come with the exit
				if match(r) {
					return r
				}
			}
			p.t.Fatalf("program exited with %d before the awaited log record; logs:\n%s", p.code, p.Logs())
		case <-deadline.C:
			p.t.Fatalf("awaited log record not seen within %v; logs:\n%s", timeout, p.Logs())
		}
	}
}

// logBuffer collects log output and tells waiters when it grows.
type logBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{}
}

func newLogBuffer() *logBuffer { return &logBuffer{notify: make(chan struct{})} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.notify)
	b.notify = make(chan struct{})
	return b.buf.Write(p)
}

func (b *logBuffer) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.notify
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) records() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var r map[string]any
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	return out
}
