package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
)

// Config is the exec runner's configuration.
type Config struct {
	// Grace is how long a command has between SIGTERM and SIGKILL when its
	// context ends (default 10s).
	Grace time.Duration
	// Env is extra environment (KEY=value) every command gets; the
	// request's Env and the contract's variables win over it.
	Env []string
	// Dir resolves a relative command path that has a slash in it
	// (./train.sh, examples/lightgbm/run.sh); default the trainer's
	// working directory. A bare name is looked up in PATH.
	Dir string
}

// Runner runs training commands; it is safe for concurrent use.
type Runner struct {
	cfg Config
}

var _ runner.Runner = (*Runner)(nil)

// New returns a Runner.
func New(cfg Config) *Runner {
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	return &Runner{cfg: cfg}
}

// tailBytes is how much of the command's stderr an exit error quotes.
const tailBytes = 2048

// Run runs req.Command with the contract's environment in req.OutDir, waits
// for it, and reads back its outputs (ReadOutputs). It returns an *Error
// when the command fails, passes the deadline of ctx or writes bad
// outputs; everything the command printed is in req.Log either way.
func (r *Runner) Run(ctx context.Context, req runner.Request) (runner.Result, error) {
	if len(req.Command) == 0 || req.Command[0] == "" {
		return runner.Result{}, &Error{Reason: ReasonBadRequest, Detail: "no command"}
	}
	if req.OutDir == "" {
		return runner.Result{}, &Error{Reason: ReasonBadRequest, Detail: "no output directory"}
	}
	log := req.Log
	if log == nil {
		log = io.Discard
	}
	contract, err := Env(req, Paths{Train: req.TrainPath, Holdout: req.HoldoutPath, Output: req.OutDir})
	if err != nil {
		return runner.Result{}, &Error{Reason: ReasonBadRequest, Detail: err.Error()}
	}
	tmp, err := os.MkdirTemp("", "tributary-exec-")
	if err != nil {
		return runner.Result{}, fmt.Errorf("make the command's temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	if err := r.run(ctx, req, merge(r.baseEnv(tmp), r.cfg.Env, req.Env, contract), log); err != nil {
		return runner.Result{}, err
	}
	res, err := ReadOutputs(req.OutDir, req)
	if err != nil {
		fmt.Fprintf(log, "[exec] outputs refused: %v\n", err)
		return runner.Result{}, err
	}
	return res, nil
}

// baseEnv is what every command gets besides the contract: PATH and HOME
// (the trainer's, with defaults), TMPDIR (a directory removed after the
// run) and LANG.
func (r *Runner) baseEnv(tmp string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = tmp
	}
	lang := os.Getenv("LANG")
	if lang == "" {
		lang = "C.UTF-8"
	}
	return []string{"PATH=" + path, "HOME=" + home, "TMPDIR=" + tmp, "LANG=" + lang}
}

func (r *Runner) command(argv []string) (string, error) {
	name := argv[0]
	if !strings.ContainsRune(name, filepath.Separator) {
		return osexec.LookPath(name)
	}
	if filepath.IsAbs(name) {
		return name, nil
	}
	base := r.cfg.Dir
	if base == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", name, err)
		}
		base = wd
	}
	return filepath.Join(base, name), nil
}

// run starts the command in its own process group and waits for it.
func (r *Runner) run(ctx context.Context, req runner.Request, env []string, log io.Writer) error {
	if ctx.Err() != nil {
		return stoppedError(context.Cause(ctx), 0)
	}
	path, err := r.command(req.Command)
	if err != nil {
		fmt.Fprintf(log, "[exec] cannot start %q: %v\n", req.Command[0], err)
		return &Error{Reason: ReasonStart, Detail: err.Error(), Err: err}
	}
	// The command writes into pipes the runner reads itself, so that Wait
	// returns when the command exits even if something it started still
	// holds them open.
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("make stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("make stderr pipe: %w", err)
	}
	cmd := &osexec.Cmd{
		Path:        path,
		Args:        req.Command,
		Env:         env,
		Dir:         req.OutDir,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	sink := &lockedWriter{w: log}
	tail := &tailWriter{max: tailBytes}
	fmt.Fprintf(sink, "[exec] start %s\n", strings.Join(req.Command, " "))
	start := time.Now()
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		fmt.Fprintf(sink, "[exec] cannot start: %v\n", err)
		return &Error{Reason: ReasonStart, Detail: err.Error(), Err: err}
	}
	pgid := cmd.Process.Pid

	var copies sync.WaitGroup
	copies.Add(2)
	go func() { defer copies.Done(); io.Copy(sink, outR) }()
	go func() { defer copies.Done(); io.Copy(io.MultiWriter(sink, tail), errR) }()

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var stopped error // why the runner stopped the command, if it did
	var waitErr error
	select {
	case waitErr = <-waited:
	case <-ctx.Done():
		stopped = context.Cause(ctx)
		fmt.Fprintf(sink, "[exec] %v: SIGTERM to the process group, SIGKILL in %s\n", stopped, r.cfg.Grace)
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		grace := time.NewTimer(r.cfg.Grace)
		select {
		case waitErr = <-waited:
			grace.Stop()
		case <-grace.C:
			fmt.Fprintf(sink, "[exec] still running after %s: SIGKILL\n", r.cfg.Grace)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			waitErr = <-waited
		}
	}
	// Whatever the command left behind in its group goes with it.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	drained := make(chan struct{})
	go func() { copies.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(r.cfg.Grace):
		// A process outside the group (it called setsid) holds the pipes.
		outR.Close()
		errR.Close()
		<-drained
		fmt.Fprintf(sink, "[exec] output pipes still open %s after the exit (a process left the group): closed\n", r.cfg.Grace)
	}
	outR.Close()
	errR.Close()
	took := time.Since(start).Round(time.Millisecond)

	if stopped != nil {
		fmt.Fprintf(sink, "[exec] stopped after %s (%v)\n", took, waitErr)
		return stoppedError(stopped, took)
	}
	if waitErr != nil {
		var exit *osexec.ExitError
		if !errors.As(waitErr, &exit) {
			return fmt.Errorf("wait for training command: %w", waitErr)
		}
		how := fmt.Sprintf("exited with code %d", exit.ExitCode())
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			how = fmt.Sprintf("killed by signal %s", ws.Signal())
		}
		fmt.Fprintf(sink, "[exec] %s after %s\n", how, took)
		detail := how
		if t := strings.TrimSpace(tail.String()); t != "" {
			detail += "; stderr ends: " + t
		}
		return &Error{Reason: ReasonExit, Detail: detail, Err: waitErr}
	}
	fmt.Fprintf(sink, "[exec] exited with code 0 after %s\n", took)
	return nil
}

// lockedWriter serializes the writes of stdout's and stderr's copies.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A failing log must not stop the copy (and block the command on a
	// full pipe): report the write as done.
	_, _ = l.w.Write(p)
	return len(p), nil
}

// tailWriter keeps the last max bytes written.
type tailWriter struct {
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return strings.ToValidUTF8(string(t.buf), "") }

// stoppedError is the error of a command the runner stopped (or did not
// start) because its context ended with cause.
func stoppedError(cause error, took time.Duration) error {
	if errors.Is(cause, context.DeadlineExceeded) {
		return &Error{Reason: ReasonDeadline, Detail: fmt.Sprintf("still running after %s, at the job's deadline: killed", took), Err: cause}
	}
	return &Error{Reason: ReasonCanceled, Detail: fmt.Sprintf("stopped after %s: %v", took, cause), Err: cause}
}
