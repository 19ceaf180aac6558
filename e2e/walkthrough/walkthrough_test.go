package walkthrough

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/e2e/harness"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// stack is the platform the walkthrough runs against: the six services as
// make run starts them (ingest without API keys), on free ports.
var stack struct {
	root     string
	cli      string // the tributary binary
	infra    *harness.Infra
	platform *harness.Platform
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) (code int) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("walkthrough: skipped in -short mode")
		return 0
	}
	ctx := context.Background()
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "walkthrough: "+format+"\n", args...)
		return 1
	}
	root, err := testkit.WorkspaceRoot()
	if err != nil {
		return fail("%v", err)
	}
	stack.root = root
	work, err := os.MkdirTemp("", "tributary-walkthrough-")
	if err != nil {
		return fail("%v", err)
	}
	defer func() {
		if code == 0 {
			_ = os.RemoveAll(work)
		} else {
			fmt.Fprintf(os.Stderr, "walkthrough: service logs kept in %s\n", work)
		}
	}()
	infra, err := harness.StartInfra(ctx, root, os.Stderr)
	if err != nil {
		return fail("start infrastructure: %v", err)
	}
	stack.infra = infra
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := infra.Stop(stopCtx); err != nil {
			code = fail("stop infrastructure: %v", err)
		}
	}()
	start := time.Now()
	if err := harness.Build(ctx, root, work); err != nil {
		return fail("%v", err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(work, "tributary"), "./cli/cmd/tributary")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fail("go build cli: %v\n%s", err, out)
	}
	stack.cli = filepath.Join(work, "tributary")
	fmt.Printf("walkthrough: services and cli built in %v\n", time.Since(start).Round(time.Millisecond))
	// As deploy/local/run.sh starts ingest for make run.
	platform, err := harness.Start(work, work, infra.Addrs, map[string][]string{
		"ingest": {"TRIBUTARY_AUTH_DISABLED=true", "TRIBUTARY_STREAMS_DIR=" + filepath.Join(root, "schemas", "streams")},
	})
	if platform != nil {
		stack.platform = platform
		defer func() {
			if err := platform.Stop(30 * time.Second); err != nil {
				code = fail("services did not stop cleanly: %v", err)
			}
		}()
	}
	if err != nil {
		return fail("%v", err)
	}
	if err := platform.WaitReady(ctx, 120*time.Second); err != nil {
		return fail("%v", err)
	}
	return m.Run()
}

// env is the environment of the README's commands: the cli's addresses of
// the services under test and of the infrastructure.
func env() []string {
	e := append(os.Environ(), stack.infra.Addrs.Env()...)
	for _, s := range harness.Services {
		e = append(e, "TRIBUTARY_"+strings.ToUpper(s)+"_URL="+stack.platform.Service(s).BaseURL)
	}
	return e
}

// hostPorts maps the README's default ports to the services under test.
func hostPorts(t *testing.T) map[string]string {
	t.Helper()
	defaults := map[string]string{"ingest": "8081", "features": "8082", "trainer": "8083", "registry": "8084", "serving": "8085", "monitor": "8086"}
	out := map[string]string{}
	for s, port := range defaults {
		u, err := url.Parse(stack.platform.Service(s).BaseURL)
		if err != nil {
			t.Fatal(err)
		}
		out[port] = u.Host
	}
	return out
}

// TestREADME runs the sh blocks of README.md's walkthrough in order, in one
// directory with bin/tributary, each with bash -euo pipefail: a command
// that fails, or output that does not match the block's expect, fails the
// test with the block's line. Then it checks, from tributary status -o
// json, that the walkthrough left what it says: the stream's events, the
// model with production, its predictions logged; and that status still
// shows the rest when a service does not answer.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(stack.root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseWalkthrough(string(readme))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(stack.cli, filepath.Join(dir, "bin", "tributary")); err != nil {
		t.Fatal(err)
	}
	ports := hostPorts(t)
	start := time.Now()
	suffix := fmt.Sprintf("_w%x", time.Now().UnixNano()&0xffffffff)
	model := withNames("chargeback", suffix)
	t.Cleanup(func() { cleanup(t, suffix) })
	for _, b := range blocks {
		script := withNames(withAddresses(b.Script, ports), suffix)
		var expect *regexp.Regexp
		if b.Expect != "" {
			expect = regexp.MustCompile(withNames(b.Expect, suffix))
		}
		began := time.Now()
		try := func(ctx context.Context) error {
			out, err := bash(ctx, dir, script)
			if err != nil {
				return fmt.Errorf("README.md line %d: %v\n%s", b.Line, err, out)
			}
			if expect != nil && !expect.MatchString(out) {
				return fmt.Errorf("README.md line %d: the output does not match %q:\n%s", b.Line, expect, out)
			}
			return nil
		}
		if b.Retry > 0 {
			testkit.EventuallyContext(t, b.Retry, try)
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			err := try(ctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("README.md line %d: ran in %v", b.Line, time.Since(began).Round(time.Millisecond))
	}
	t.Logf("walkthrough: %d blocks in %v", len(blocks), time.Since(start).Round(time.Millisecond))

	t.Run("status", func(t *testing.T) {
		// The predictions reach ClickHouse through the monitor: poll.
		var r statusJSON
		testkit.EventuallyContext(t, 60*time.Second, func(ctx context.Context) error {
			out, err := cli(ctx, dir, "status", "-o", "json", "-model", model)
			if err != nil {
				return fmt.Errorf("status: %v\n%s", err, out)
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				return fmt.Errorf("status -o json: %v\n%s", err, out)
			}
			if n := r.predictions(model, "production"); n < 4 {
				return fmt.Errorf("%d predictions of %s by production in the window, want the walkthrough's 4 or more", n, model)
			}
			return nil
		})
		if stream := withNames("payments", suffix); r.events(stream) != 120 {
			t.Errorf("%d events of %s in the window, want the walkthrough's 120", r.events(stream), stream)
		}
		if len(r.Models.Models) != 1 || r.Models.Models[0].Model != model || r.production() != 1 {
			t.Errorf("models %+v: want %s with production at version 1", r.Models, model)
		}
		if r.DeadLetters.OnTopic == nil {
			t.Error("status counted no records on the dead-letter topic")
		}
		for _, s := range r.Services {
			if !s.Ready {
				t.Errorf("service %s not ready: %+v", s.Name, s)
			}
		}
	})

	t.Run("unreachable service", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + l.Addr().String()
		l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := cli(ctx, dir, "status", "-model", model, "-registry.url", dead)
		if err == nil {
			t.Fatalf("status with the registry unreachable exited 0:\n%s", out)
		}
		for _, want := range []string{
			"registry  " + dead + "  UNREACHABLE: registry at " + dead + ": dial tcp",
			"! registry at " + dead,
			"tributary status: not every source answered: registry (see above)",
			"PREDICTIONS", model + "  production", // the rest is still there
		} {
			if !strings.Contains(out, want) {
				t.Errorf("status output lacks %q:\n%s", want, out)
			}
		}
	})
}

// statusJSON is the part of tributary status -o json the test reads.
type statusJSON struct {
	Services []struct {
		Name  string `json:"name"`
		Ready bool   `json:"ready"`
		Error string `json:"error"`
	} `json:"services"`
	Streams struct {
		Streams []struct {
			Stream string `json:"stream"`
			Events uint64 `json:"events"`
		} `json:"streams"`
	} `json:"streams"`
	Models struct {
		Models []struct {
			Model   string `json:"model"`
			Aliases []struct {
				Name    string `json:"name"`
				Version int    `json:"version"`
			} `json:"aliases"`
		} `json:"models"`
	} `json:"models"`
	DeadLetters struct {
		OnTopic *int64 `json:"on_topic"`
	} `json:"dead_letters"`
	Predictions struct {
		Routes []struct {
			Model       string `json:"model"`
			Route       string `json:"route"`
			Predictions uint64 `json:"predictions"`
		} `json:"routes"`
	} `json:"predictions"`
}

func (r statusJSON) events(stream string) uint64 {
	for _, s := range r.Streams.Streams {
		if s.Stream == stream {
			return s.Events
		}
	}
	return 0
}

func (r statusJSON) predictions(model, route string) uint64 {
	for _, p := range r.Predictions.Routes {
		if p.Model == model && p.Route == route {
			return p.Predictions
		}
	}
	return 0
}

func (r statusJSON) production() int {
	for _, m := range r.Models.Models {
		for _, a := range m.Aliases {
			if a.Name == "production" {
				return a.Version
			}
		}
	}
	return 0
}

// bash runs a script with bash -euo pipefail in dir and returns its
// combined output.
func bash(ctx context.Context, dir, script string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func cli(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, stack.cli, args...)
	cmd.Dir = dir
	cmd.Env = env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// cleanup removes the definitions the walkthrough applied (the registry
// keeps its model: versions are never deleted), so that the shared NATS
// is left as it was apart from the model.
func cleanup(t *testing.T, suffix string) {
	nc, err := nats.Connect(stack.infra.Addrs.NATSURL)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for bucket, key := range map[string]string{"tributary_schemas": "payments", "tributary_features": "view.spending", "tributary_jobs": "specs.chargeback"} {
		key = withNames(key, suffix)
		kv, err := js.KeyValue(ctx, bucket)
		if err == nil {
			err = kv.Purge(ctx, key)
		}
		if err != nil {
			t.Errorf("cleanup %s %s: %v", bucket, key, err)
		}
	}
}
