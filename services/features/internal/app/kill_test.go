package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/features/internal/app"
)

// childPrefix, when set, makes the test binary run the features service
// (with this prefix on topics, keys and NATS resources) instead of the
// tests: a real process that a test can kill -9.
const childPrefix = "TRIBUTARY_FEATURES_TEST_CHILD_PREFIX"

func TestMain(m *testing.M) {
	if spec := os.Getenv(loadChildEnv); spec != "" {
		os.Exit(runLoadChild(spec)) // BenchmarkOnlineLoad's load generator
	}
	if prefix := os.Getenv(childPrefix); prefix != "" {
		var cfg app.Config
		service.Main(service.Program{
			Name: "features", HTTPAddr: ":8082", Config: &cfg,
			New: func(ctx context.Context, rt *service.Runtime) (service.App, error) {
				cfg.Prefix = prefix
				cfg.JetStream.Prefix = prefix
				return app.New(ctx, cfg, rt)
			},
		})
	}
	testkit.VerifyTestMain(m)
}

// child is the features service in a process of its own.
type child struct {
	cmd  *exec.Cmd
	url  string
	logs testkit.Buffer
}

func (c *child) Write(b []byte) (int, error) { return c.logs.Write(b) }

func (c *child) Logs() string { return c.logs.String() }

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startChildAt starts the child listening on addr.
func (h *harness) startChildAt(addr string, args ...string) *child {
	h.t.Helper()
	c := &child{url: "http://" + addr}
	c.cmd = exec.Command(os.Args[0], append([]string{"-http.addr=" + addr, "-clickhouse.database=" + h.db, "-materializer.group=" + h.group, "-datasets.consumer="}, args...)...)
	c.cmd.Env = append(os.Environ(), childPrefix+"="+h.prefix)
	c.cmd.Stdout, c.cmd.Stderr = c, c
	if err := c.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	return c
}

func (c *child) readyz() (int, string) {
	resp, err := http.Get(c.url + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// TestKillRestartMaterializesAtOnce kills the service with SIGKILL while
// events keep coming, restarts it, and measures how long the restarted
// process takes to materialize what arrived meanwhile: with static group
// membership it gets its partitions back at once, instead of after the dead
// member's session timeout (45 s). /readyz is 503 until the backlog is
// applied, and nothing is lost or counted twice. It runs with an explicit
// -materializer.instance-id, and with none: the default id (host name and
// HTTP port) is the same after the restart on the same port.
func TestKillRestartMaterializesAtOnce(t *testing.T) {
	t.Run("explicit id", func(t *testing.T) {
		h := newHarness(t)
		instance := "-materializer.instance-id=" + h.prefix + "m1"
		if os.Getenv("TRIBUTARY_TEST_DYNAMIC_MEMBERSHIP") != "" {
			instance = "-materializer.instance-id=-" // to measure the old behaviour
		}
		killRestart(t, h, "", instance)
	})
	t.Run("default id", func(t *testing.T) {
		h := newHarness(t)
		addr := freeAddr(t)
		_, port, _ := net.SplitHostPort(addr)
		host, err := os.Hostname()
		if err != nil {
			t.Fatal(err)
		}
		a, b := killRestart(t, h, addr)
		// Both processes said which id they took: the same one.
		for name, c := range map[string]*child{"first": a, "restarted": b} {
			if !strings.Contains(c.Logs(), `"instance_id":"`+host+"-"+port+`"`) {
				t.Errorf("the %s process did not use the default id %s-%s:\n%s", name, host, port, c.Logs())
			}
		}
	})
}

// killRestart runs the kill -9 and restart scenario with args; the
// restarted process listens on addr too when it is set, and on a new port
// otherwise. It returns both processes.
func killRestart(t *testing.T, h *harness, addr string, args ...string) (*child, *child) {
	t.Helper()
	args = append(args, "-materializer.ready-max-lag=1s")
	first := addr
	if first == "" {
		first = freeAddr(t)
	}
	a := h.startChildAt(first, args...)
	waitChildReady(t, a, 60*time.Second)
	h.apply()
	testkit.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get(a.url + "/v1/features/uc/x")
		if err != nil {
			return fmt.Errorf("view not picked up: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("view not picked up: GET answers %d", resp.StatusCode)
		}
		return nil
	})
	r := rand.New(rand.NewPCG(5, 6))
	var clicks []click
	more := func(n int) {
		now := time.Now()
		c := h.randomClicks(r, n, now.Add(-5*time.Minute), now)
		h.produce(c)
		clicks = append(clicks, c...)
	}
	more(500)
	h.caughtUp(60 * time.Second)
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	more(300) // while it is down
	// Let the backlog age past -materializer.ready-max-lag (1s), so that
	// /readyz must report it: a wait for time to pass, not for a condition.
	time.Sleep(1500 * time.Millisecond)
	more(10)
	start := time.Now()
	sameAddr := addr != ""
	if !sameAddr {
		addr = freeAddr(t)
	}
	b := h.startChildAt(addr, args...)
	var readyAt time.Duration
	var sawNotReady string
	testkit.Eventually(t, 90*time.Second, func() error {
		code, body := b.readyz()
		if code == 200 {
			readyAt = time.Since(start)
			return nil
		}
		if code == 503 && strings.Contains(body, "materializer") {
			sawNotReady = body
		}
		return fmt.Errorf("not ready %v after the restart: %s\nlogs:\n%s", time.Since(start), body, b.Logs())
	})
	// Ready means applied: the group has committed everything by now.
	h.caughtUp(time.Second)
	caught := time.Since(start)
	t.Logf("after kill -9 and restart: /readyz 200 after %v, backlog of 310 events materialized and committed after %v", readyAt.Round(time.Millisecond), caught.Round(time.Millisecond))
	if sawNotReady == "" {
		t.Error("/readyz never reported the materializer not ready while it had a backlog")
	} else {
		t.Logf("not ready meanwhile: %s", sawNotReady)
	}
	if os.Getenv("TRIBUTARY_TEST_DYNAMIC_MEMBERSHIP") == "" && caught > 15*time.Second {
		t.Errorf("the restarted service took %v to materialize the backlog; the session timeout is 45s", caught)
	}
	// Nothing lost, nothing counted twice.
	want := map[string]int64{}
	for _, c := range clicks {
		want[c.User]++
	}
	body, _ := json.Marshal(map[string]any{"entities": h.users, "features": []string{"uc:clicks_1d"}})
	resp, err := http.Post(b.url+"/v1/features", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Results []struct {
			Entity string
			Values map[string]struct{ Value json.Number }
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range out.Results {
		got, _ := res.Values["uc:clicks_1d"].Value.Int64()
		if got != want[res.Entity] {
			t.Errorf("%s: clicks_1d %d, produced %d", res.Entity, got, want[res.Entity])
		}
	}
	// A graceful stop leaves the group (a static member would otherwise
	// hold its partitions until the session timeout).
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, b.Logs())
	}
	described, err := h.adm.DescribeGroups(context.Background(), h.group)
	if err != nil {
		t.Fatal(err)
	}
	if g := described[h.group]; len(g.Members) != 0 {
		t.Errorf("group %s still has %d members after a graceful stop: %+v", h.group, len(g.Members), g.Members)
	}
	return a, b
}

func waitChildReady(t *testing.T, c *child, timeout time.Duration) {
	t.Helper()
	testkit.Eventually(t, timeout, func() error {
		code, body := c.readyz()
		if code == 200 {
			return nil
		}
		return fmt.Errorf("not ready: %d %s\nlogs:\n%s", code, body, c.Logs())
	})
}
