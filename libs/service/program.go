package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Program describes one service binary. Its main function is
// service.Main(program).
type Program struct {
	// Name is the service's name: it is the "service" attribute of every
	// log record and part of its metric names (tributary_<name>_...).
	Name string
	// HTTPAddr is the default of -http.addr, such as ":8081".
	HTTPAddr string
	// Config is the app's own configuration; its flags are registered
	// beside the runtime's and it is validated before New is called. It may
	// be nil.
	Config AppConfig
	// New builds the app once the configuration is parsed and valid: it
	// connects to the dependencies (without waiting for them to be up), and
	// registers handlers, actors, readiness checks and closers on rt. ctx
	// ends when the service is asked to stop during the start.
	New func(ctx context.Context, rt *Runtime) (App, error)
}

// AppConfig is an app's configuration: it registers its flags (defaults
// live there) and validates their values. Validate's errors start with the
// name of the flag at fault, as in "kafka.brokers: ...".
type AppConfig interface {
	RegisterFlags(fs *flag.FlagSet)
	Validate() error
}

// App is a built app: its main actor. Run returns nil when ctx is
// cancelled, or an error that stops the service.
type App interface {
	Run(ctx context.Context) error
}

// Main runs the program with the process's arguments and environment until
// SIGINT or SIGTERM, and exits: 0 after a clean shutdown, 1 when something
// failed, 2 on a bad configuration. A second signal exits at once.
func Main(p Program) {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	os.Exit(p.Run(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr, signals))
}

// FlagSet returns a flag set with every flag of the program registered: the
// runtime's and the app's. Run builds its own; this one is for
// documentation and tests.
func (p Program) FlagSet() *flag.FlagSet {
	var cfg Config
	return p.flagSet(&cfg)
}

func (p Program) flagSet(cfg *Config) *flag.FlagSet {
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Run prints usage and errors itself, on one line
	cfg.RegisterFlags(fs, p.HTTPAddr)
	if p.Config != nil {
		p.Config.RegisterFlags(fs)
	}
	return fs
}

// Run is Main without the process: it parses args (falling back to
// lookupEnv, see ParseFlags), prints -h to stdout, logs to stderr, runs the
// service until the first value on signals and shuts it down gracefully; a
// second value makes it return at once. It returns the exit code.
func (p Program) Run(args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer, signals <-chan os.Signal) int {
	var cfg Config
	fs := p.flagSet(&cfg)
	err := ParseFlags(fs, args, lookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, p.Name, fs)
		return 0
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("%w: %q", errUnexpectedArgs, fs.Args())
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s (see -h)\n", p.Name, describeConfigError(fs, err))
		return 2
	}
	err = cfg.Validate()
	if p.Config != nil {
		err = errors.Join(err, p.Config.Validate())
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration: %s\n", p.Name, describeConfigError(fs, err))
		return 2
	}
	level, _ := parseLevel(cfg.LogLevel) // validated above
	logger := NewLogger(stderr, p.Name, level)
	if err := p.serve(cfg, logger, signals); err != nil {
		return 1
	}
	return 0
}

// serve runs the service until a signal or a failure, then shuts it down.
// Its error has been logged.
func (p Program) serve(cfg Config, logger *slog.Logger, signals <-chan os.Signal) error {
	start := time.Now()
	version := buildVersion()
	logger.Info("starting", "version", version, "go", runtime.Version(), "http_addr", cfg.HTTPAddr)

	// stop ends at the first signal; force is closed at the second.
	stop, cancelStop := context.WithCancel(context.Background())
	defer cancelStop()
	force := make(chan struct{})
	returned := make(chan struct{})
	defer close(returned)
	go func() {
		for n := 1; ; n++ {
			select {
			case <-returned:
				return
			case sig := <-signals:
				if n == 1 {
					logger.Info("signal received, shutting down", "signal", sig.String())
					cancelStop()
					continue
				}
				logger.Error("second signal, exiting without finishing the shutdown", "signal", sig.String())
				close(force)
				return
			}
		}
	}()

	reg := prometheus.NewRegistry()
	if err := errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	); err != nil {
		logger.Error("register runtime metrics", "err", err)
		return err
	}
	tp, stopTracing, err := newTracerProvider(stop, cfg.Tracing, p.Name, version)
	if err != nil {
		logger.Error("start tracing", "err", err)
		return err
	}
	rt := newRuntime(p.Name, logger, reg, tp)
	// Registered first, so closed last: it flushes the spans of everything
	// else's shutdown.
	rt.AddCloser("tracing", stopTracing)

	// closeEarly releases what is open when the start fails.
	closeEarly := func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		_ = rt.closers.closeAll(ctx, logger) // logged inside
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		logger.Error("listen", "addr", cfg.HTTPAddr, "err", err)
		closeEarly()
		return err
	}
	rt.HTTPAddr = ln.Addr().String()
	rt.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry: reg,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}))
	rt.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	rt.mux.Handle("GET /readyz", rt.ready)

	app, err := p.New(stop, rt)
	if err != nil {
		logger.Error("build app", "err", err)
		_ = ln.Close()
		closeEarly()
		return err
	}
	rt.AddActor("app", app.Run)
	rt.AddActor("readiness", rt.ready.watch)

	srv := &http.Server{
		Handler:           newHTTPMetrics(reg, p.Name).instrument(rt.mux),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("http server listening", "addr", ln.Addr().String())

	actorsCtx, stopActors := context.WithCancel(context.Background())
	defer stopActors()
	group := rt.start()
	ran := make(chan error, 1)
	go func() { ran <- group.Run(actorsCtx) }()
	logger.Info("started", "took", time.Since(start).Round(time.Millisecond).String())

	s := &shutdown{cfg: cfg, logger: logger, rt: rt, srv: srv, served: served, ran: ran, stopActors: stopActors}
	select {
	case <-stop.Done():
	case err := <-ran:
		s.ranDone = true
		if err == nil {
			err = errors.New("run group ended")
		}
		logger.Error("actor stopped, shutting down", "err", err)
		s.errs = append(s.errs, err)
	case err := <-served:
		s.servedDone = true
		logger.Error("http server stopped, shutting down", "err", err)
		s.errs = append(s.errs, fmt.Errorf("http server: %w", err))
	}

	done := make(chan error, 1)
	go func() { done <- s.run() }()
	select {
	case err := <-done:
		if err != nil {
			logger.Error("stopped with errors", "err", err, "uptime", time.Since(start).Round(time.Millisecond).String())
			return err
		}
		logger.Info("stopped", "uptime", time.Since(start).Round(time.Millisecond).String())
		return nil
	case <-force:
		return errors.New("forced exit")
	}
}

// shutdown is the graceful stop, in order: readiness fails, the delay lets
// load balancers notice, the HTTP server drains, the actors stop, the
// closers run in reverse order; all within cfg.ShutdownTimeout.
type shutdown struct {
	cfg        Config
	logger     *slog.Logger
	rt         *Runtime
	srv        *http.Server
	served     <-chan error
	servedDone bool
	ran        <-chan error
	ranDone    bool
	stopActors context.CancelFunc
	errs       []error
}

func (s *shutdown) run() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	s.logger.Info("shutdown started", "timeout", s.cfg.ShutdownTimeout.String())

	s.rt.ready.shutdown()
	s.logger.Info("readiness set to not ready")

	if d := s.cfg.ShutdownDelay; d > 0 {
		s.logger.Info("waiting before stopping intake", "delay", d.String())
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}

	if err := s.srv.Shutdown(ctx); err != nil {
		s.errs = append(s.errs, fmt.Errorf("drain http server: %w", err))
		_ = s.srv.Close()
	}
	if !s.servedDone {
		if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
			s.errs = append(s.errs, fmt.Errorf("http server: %w", err))
		}
	}
	s.logger.Info("http server stopped")

	s.stopActors()
	if !s.ranDone {
		select {
		case err := <-s.ran:
			if err != nil {
				s.errs = append(s.errs, err)
			}
			s.logger.Info("actors stopped")
		case <-ctx.Done():
			s.errs = append(s.errs, fmt.Errorf("actors not stopped by the shutdown deadline: %w", ctx.Err()))
			s.logger.Error("actors not stopped by the shutdown deadline")
		}
	}

	if err := s.rt.closers.closeAll(ctx, s.logger); err != nil {
		s.errs = append(s.errs, err)
	}
	return errors.Join(s.errs...)
}

// buildVersion is the module version and VCS revision the binary was built
// from, as far as the Go toolchain recorded them.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}
