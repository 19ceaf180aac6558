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
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// Platform is the six services, running.
type Platform struct {
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
	p := &Platform{services: map[string]*Service{}}
	for _, name := range Services {
		port, err := freePort()
		if err != nil {
			return p, err
		}
		logPath := filepath.Join(logDir, name+".log")
		logFile, err := os.Create(logPath)
		if err != nil {
			return p, fmt.Errorf("create log of %s: %w", name, err)
		}
		cmd := exec.Command(filepath.Join(binDir, name), "-http.addr", fmt.Sprintf("127.0.0.1:%d", port))
		cmd.Env = append(append(os.Environ(), addrs.Env()...), env[name]...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			_ = logFile.Close()
			return p, fmt.Errorf("start %s: %w", name, err)
		}
		s := &Service{Name: name, BaseURL: fmt.Sprintf("http://127.0.0.1:%d", port), LogPath: logPath, cmd: cmd, exited: make(chan struct{})}
		go func() {
			s.waitErr = cmd.Wait()
			_ = logFile.Close()
			close(s.exited)
		}()
		p.services[name] = s
	}
	return p, nil
}

// WaitReady polls every service's /readyz until all answer 200; an exited
// service or the deadline is an error that names the service and its last
// readiness answer.
func (p *Platform) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, name := range Services {
		s := p.services[name]
		var last string
		for {
			code, body, err := get(ctx, s.BaseURL+"/readyz")
			if err == nil && code == http.StatusOK {
				break
			}
			last = fmt.Sprintf("status %d: %s", code, body)
			if err != nil {
				last = err.Error()
			}
			select {
			case <-s.exited:
				return fmt.Errorf("%s exited before it was ready (%v); log %s:\n%s", name, s.waitErr, s.LogPath, tail(s.LogPath, 20))
			case <-ctx.Done():
				return fmt.Errorf("%s not ready after %v, last /readyz: %s; log %s:\n%s", name, timeout, last, s.LogPath, tail(s.LogPath, 20))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
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

// RepoRoot walks up from the working directory to the directory of go.work.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory")
		}
		dir = parent
	}
}
