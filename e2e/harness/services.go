package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Services are the six platform services, in the order they are started.
var Services = []string{"ingest", "features", "trainer", "registry", "serving", "monitor"}

// Service is one running service process.
type Service struct {
	Name    string
	BaseURL string // http://127.0.0.1:port
	LogPath string
	path    string
	args    []string
	env     []string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// Platform is the six services, running.
type Platform struct {
	// BinDir is the directory of the service binaries.
	BinDir   string
	services map[string]*Service
}

// Service returns the running service of that name.
func (p *Platform) Service(name string) *Service { return p.services[name] }

// Build compiles the six services into dir, from the workspace at root.
func Build(ctx context.Context, root, dir string) error {
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, s := range Services {
		args = append(args, "./services/"+s+"/cmd/"+s)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build services: %w\n%s", err, out)
	}
	return nil
}

// Start starts every service binary from binDir on a free loopback port with
// the infrastructure addresses in its environment, plus the variables env
// names for that service, logging to logDir.
func Start(binDir, logDir string, addrs Addrs, env map[string][]string) (*Platform, error) {
	p := &Platform{BinDir: binDir, services: map[string]*Service{}}
	for _, name := range Services {
		port, err := freePort()
		if err != nil {
			return p, err
		}
		s := &Service{Name: name, BaseURL: fmt.Sprintf("http://127.0.0.1:%d", port), LogPath: filepath.Join(logDir, name+".log"),
			path: filepath.Join(binDir, name), args: []string{"-http.addr", fmt.Sprintf("127.0.0.1:%d", port)},
			env: append(append(os.Environ(), addrs.Env()...), env[name]...)}
		if err := s.start(); err != nil {
			return p, err
		}
		p.services[name] = s
	}
	return p, nil
}

// start runs the service's binary, appending to its log.
func (s *Service) start() error {
	logFile, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log of %s: %w", s.Name, err)
	}
	cmd := exec.Command(s.path, s.args...)
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited, s.waitErr = cmd, exited, nil
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		s.waitErr = err
		close(exited)
	}()
	return nil
}

// Pid is the process id of the service's current process.
func (s *Service) Pid() int { return s.cmd.Process.Pid }

// Kill sends SIGKILL to the service and waits until it is gone: a crash,
// with no graceful shutdown.
func (p *Platform) Kill(name string) error {
	s := p.services[name]
	if err := s.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	<-s.exited
	return nil
}

// Restart starts a service that exited again, on the same port with the
// same environment, and waits until it is ready.
func (p *Platform) Restart(ctx context.Context, name string, timeout time.Duration) error {
	s := p.services[name]
	select {
	case <-s.exited:
	default:
		return fmt.Errorf("restart %s: it is still running", name)
	}
	// The old process's port may linger for a moment.
	deadline := time.Now().Add(timeout)
	for {
		err := s.start()
		if err != nil {
			return err
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		err = p.waitReady(rctx, s, timeout)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			if time.Now().Before(deadline) && strings.Contains(tail(s.LogPath, 5), "address already in use") {
				continue
			}
		default:
		}
		return err
	}
}

// WaitReady polls every service's /readyz until all answer 200; an exited
// service or the deadline is an error that names the service and its last
// readiness answer.
func (p *Platform) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, name := range Services {
		if err := p.waitReady(ctx, p.services[name], timeout); err != nil {
			return err
		}
	}
	return nil
}

func (p *Platform) waitReady(ctx context.Context, s *Service, timeout time.Duration) error {
	var last string
	for {
		code, body, err := get(ctx, s.BaseURL+"/readyz")
		if err == nil && code == http.StatusOK {
			return nil
		}
		last = fmt.Sprintf("status %d: %s", code, body)
		if err != nil {
			last = err.Error()
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before it was ready (%v); log %s:\n%s", s.Name, s.waitErr, s.LogPath, tail(s.LogPath, 20))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v, last /readyz: %s; log %s:\n%s", s.Name, timeout, last, s.LogPath, tail(s.LogPath, 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM to every service and waits for it to exit, killing those
// still running at the deadline. It returns an error for every service that
// did not exit cleanly: a graceful shutdown is part of what is tested.
func (p *Platform) Stop(timeout time.Duration) error {
	for _, s := range p.services {
		if s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(timeout)
	var errs []error
	for _, name := range Services {
		s, ok := p.services[name]
		if !ok {
			continue
		}
		select {
		case <-s.exited:
			if s.waitErr != nil {
				errs = append(errs, fmt.Errorf("%s exited with %v; log %s:\n%s", name, s.waitErr, s.LogPath, tail(s.LogPath, 20)))
			}
		case <-deadline:
			_ = s.cmd.Process.Kill()
			<-s.exited
			errs = append(errs, fmt.Errorf("%s did not stop within %v of SIGTERM and was killed", name, timeout))
		}
	}
	return errors.Join(errs...)
}

func get(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close() //nolint:errcheck // read-only body
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close() //nolint:errcheck // only used to pick a port
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
