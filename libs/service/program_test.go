package service_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
)

// demoConfig is an app configuration with one flag.
type demoConfig struct{ size int }

func (c *demoConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.size, "demo.size", 1, "Size of the demo.")
}

func (c *demoConfig) Validate() error {
	if c.size < 0 {
		return fmt.Errorf("demo.size: must not be negative, got %d", c.size)
	}
	return nil
}

// demoApp runs until stopped; runErr, when set, makes Run fail at once.
type demoApp struct{ runErr error }

func (a *demoApp) Run(ctx context.Context) error {
	if a.runErr != nil {
		return a.runErr
	}
	<-ctx.Done()
	return nil
}

// demo is a program whose app has one dependency check (up), two closers
// and a /hello handler; hook may register more.
func demo(up *atomic.Bool, hook func(rt *service.Runtime) (*demoApp, error)) service.Program {
	return service.Program{
		Name:     "demo",
		HTTPAddr: ":8080",
		Config:   &demoConfig{},
		New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
			rt.AddCheck("dep", func(context.Context) error {
				if !up.Load() {
					return errors.New("dep is down")
				}
				return nil
			})
			rt.AddCloser("first", func(context.Context) error { return nil })
			rt.AddCloser("second", func(context.Context) error { return nil })
			rt.Handle("GET /hello", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "hello")
			}))
			if hook != nil {
				return hook(rt)
			}
			return &demoApp{}, nil
		},
	}
}

// msgs lists the msg of every log record, in order.
func msgs(p *servicetest.Process) []string {
	var out []string
	for _, r := range p.Records() {
		m, _ := r["msg"].(string)
		if name, ok := r["name"].(string); ok && m == "closed" {
			m += " " + name
		}
		out = append(out, m)
	}
	return out
}

// inOrder reports whether want appears in got as a subsequence.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestProgramStartServeStop(t *testing.T) {
	var up atomic.Bool
	p := servicetest.Start(t, demo(&up, nil), "-log.level", "debug")

	if code, body := p.Get("/healthz"); code != 200 || string(body) != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	body := p.WaitReadyz(5*time.Second, http.StatusServiceUnavailable)
	if !strings.Contains(string(body), `"name": "dep"`) || !strings.Contains(string(body), "dep is down") {
		t.Errorf("/readyz body does not name the failing check:\n%s", body)
	}
	up.Store(true)
	p.WaitReady(5 * time.Second)
	p.WaitLog(5*time.Second, func(r map[string]any) bool { return r["msg"] == "ready" && r["service"] == "demo" })
	if code, body := p.Get("/hello"); code != 200 || string(body) != "hello" {
		t.Errorf("/hello = %d %q", code, body)
	}
	if code, _ := p.Get("/nowhere"); code != 404 {
		t.Errorf("/nowhere = %d", code)
	}
	code, metrics := p.Get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`tributary_demo_http_requests_total{code="200",handler="GET /healthz"} 1`,
		`tributary_demo_http_requests_total{code="503",handler="GET /readyz"}`,
		`tributary_demo_http_requests_total{code="200",handler="GET /hello"} 1`,
		`tributary_demo_http_requests_total{code="404",handler="unmatched"} 1`,
		`tributary_demo_http_request_duration_seconds_bucket{handler="GET /hello",le="+Inf"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if code := p.Stop(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; logs:\n%s", code, p.Logs())
	}
	want := []string{
		"starting", "http server listening", "started", "signal received, shutting down", "shutdown started",
		"readiness set to not ready", "http server stopped", "actors stopped",
		"closed second", "closed first", "closed tracing", "stopped",
	}
	if got := msgs(p); !inOrder(got, want) {
		t.Errorf("log steps %q are not in the order %q", got, want)
	}
	for _, r := range p.Records() {
		if r["service"] != "demo" {
			t.Errorf("log record without service=demo: %v", r)
		}
	}
}

func TestProgramShutdownDelayAndDrain(t *testing.T) {
	var up atomic.Bool
	up.Store(true)
	release := make(chan struct{})
	entered := make(chan struct{})
	p := servicetest.Start(t, demo(&up, func(rt *service.Runtime) (*demoApp, error) {
		rt.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			close(entered)
			<-release
			_, _ = io.WriteString(w, "done")
		}))
		return &demoApp{}, nil
	}), "-shutdown.delay", "400ms")
	p.WaitReady(5 * time.Second)

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(p.URL + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slow <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	<-entered
	p.Signal(syscall.SIGTERM)
	body := p.WaitReadyz(2*time.Second, http.StatusServiceUnavailable)
	if !strings.Contains(string(body), `"shutting_down": true`) {
		t.Errorf("/readyz during the delay: %s", body)
	}
	if code, _ := p.Get("/healthz"); code != 200 {
		t.Errorf("/healthz during the delay = %d; liveness must not fail on shutdown", code)
	}
	close(release)
	if got := <-slow; got != "200 done" {
		t.Errorf("in-flight request got %q; the server must drain it", got)
	}
	if code := p.Wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d; logs:\n%s", code, p.Logs())
	}
	if !inOrder(msgs(p), []string{"readiness set to not ready", "waiting before stopping intake", "http server stopped"}) {
		t.Errorf("shutdown steps out of order: %q", msgs(p))
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestProgramActorFailureStopsService(t *testing.T) {
	var up atomic.Bool
	p := servicetest.Start(t, demo(&up, func(*service.Runtime) (*demoApp, error) {
		return &demoApp{runErr: errors.New("consumer lost")}, nil
	}))
	if code := p.Wait(10 * time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1; logs:\n%s", code, p.Logs())
	}
	rec := p.WaitLog(time.Second, func(r map[string]any) bool { return r["msg"] == "stopped with errors" })
	if !strings.Contains(fmt.Sprint(rec["err"]), "actor app: consumer lost") {
		t.Errorf("final log does not carry the cause: %v", rec)
	}
	if !inOrder(msgs(p), []string{"actor stopped, shutting down", "http server stopped", "closed second", "closed first"}) {
		t.Errorf("shutdown steps missing: %q", msgs(p))
	}
}

func TestProgramNewFailsClosesWhatItOpened(t *testing.T) {
	var up atomic.Bool
	var closed atomic.Int32
	p := demo(&up, func(rt *service.Runtime) (*demoApp, error) {
		rt.AddCloser("opened", func(context.Context) error { closed.Add(1); return nil })
		return nil, errors.New("bad schema file")
	})
	var stderr bytes.Buffer
	code := p.Run([]string{"-http.addr", "127.0.0.1:0"}, noEnv, io.Discard, &stderr, nil)
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if closed.Load() != 1 {
		t.Error("closer registered before the failure was not closed")
	}
	if !strings.Contains(stderr.String(), "bad schema file") {
		t.Errorf("logs do not name the cause:\n%s", stderr.String())
	}
}

// TestRuntimeHTTPAddr: the app sees the address the server listens on,
// with the port the system picked for port 0.
func TestRuntimeHTTPAddr(t *testing.T) {
	var up atomic.Bool
	var addr string
	p := demo(&up, func(rt *service.Runtime) (*demoApp, error) {
		addr = rt.HTTPAddr
		return nil, errors.New("stop here")
	})
	if code := p.Run([]string{"-http.addr", "127.0.0.1:0"}, noEnv, io.Discard, io.Discard, nil); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" || port == "0" || port == "" {
		t.Errorf("rt.HTTPAddr = %q (%v), want 127.0.0.1 and the picked port", addr, err)
	}
}

func TestProgramPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var up atomic.Bool
	var stderr bytes.Buffer
	if code := demo(&up, nil).Run([]string{"-http.addr", ln.Addr().String()}, noEnv, io.Discard, &stderr, nil); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), `"msg":"listen"`) {
		t.Errorf("no listen error logged:\n%s", stderr.String())
	}
}

func TestProgramSecondSignalForcesExit(t *testing.T) {
	var up atomic.Bool
	release := make(chan struct{})
	defer close(release) // lets the abandoned shutdown finish, for the leak check
	p := servicetest.Start(t, demo(&up, func(rt *service.Runtime) (*demoApp, error) {
		rt.AddCloser("stuck", func(context.Context) error { <-release; return nil })
		return &demoApp{}, nil
	}), "-shutdown.timeout", "1m")
	p.Signal(syscall.SIGTERM)
	p.WaitLog(5*time.Second, func(r map[string]any) bool { return r["msg"] == "actors stopped" })
	start := time.Now()
	p.Signal(os.Interrupt)
	if code := p.Wait(5 * time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("forced exit took %v", took)
	}
}

func noEnv(string) (string, bool) { return "", false }

func TestProgramBadConfig(t *testing.T) {
	var up atomic.Bool
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"bad duration flag", []string{"-shutdown.timeout=x"}, nil,
			[]string{"-shutdown.timeout", "TRIBUTARY_SHUTDOWN_TIMEOUT", `"x"`}},
		{"bad duration in env", nil, map[string]string{"TRIBUTARY_SHUTDOWN_TIMEOUT": "x"},
			[]string{"-shutdown.timeout", "TRIBUTARY_SHUTDOWN_TIMEOUT", `"x"`}},
		{"invalid log level", []string{"-log.level", "loud"}, nil,
			[]string{"-log.level", "TRIBUTARY_LOG_LEVEL", "loud"}},
		{"invalid log level in env", nil, map[string]string{"TRIBUTARY_LOG_LEVEL": "loud"},
			[]string{"-log.level", "TRIBUTARY_LOG_LEVEL"}},
		{"app validation", []string{"-demo.size=-1"}, nil,
			[]string{"-demo.size", "TRIBUTARY_DEMO_SIZE", "must not be negative"}},
		{"two errors, one line", []string{"-demo.size=-1", "-trace.sample-ratio=2"}, nil,
			[]string{"TRIBUTARY_DEMO_SIZE", "TRIBUTARY_TRACE_SAMPLE_RATIO"}},
		{"unknown flag", []string{"-kafka.brokers=x"}, nil, []string{"-kafka.brokers", "not defined"}},
		{"positional argument", []string{"serve"}, nil, []string{"unexpected arguments", "serve"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			code := demo(&up, nil).Run(tc.args, env, &stdout, &stderr, nil)
			if code != 2 {
				t.Fatalf("exit code %d, want 2; stderr: %s", code, stderr.String())
			}
			line := stderr.String()
			if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || !strings.HasPrefix(line, "demo: ") {
				t.Errorf("want one line starting with the service name, got %q", line)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("%q does not mention %s", line, w)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
}

func TestProgramHelp(t *testing.T) {
	var up atomic.Bool
	var stdout, stderr bytes.Buffer
	if code := demo(&up, nil).Run([]string{"-h"}, noEnv, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, w := range []string{"Usage: demo [flags]", "-http.addr string  (TRIBUTARY_HTTP_ADDR)", `(default ":8080")`, "-demo.size int  (TRIBUTARY_DEMO_SIZE)"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("-h output lacks %q:\n%s", w, stdout.String())
		}
	}
}
