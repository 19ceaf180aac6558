package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/e2e/harness"
	"github.com/tributary-ml/tributary/libs/testkit"
)

// stack is the running platform shared by the tests of this package.
var stack struct {
	infra    *harness.Infra
	platform *harness.Platform
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run provides the infrastructure, builds and starts the services, runs the
// tests and stops everything it started, also when a step or a test fails.
func run(m *testing.M) (code int) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		return 0
	}
	ctx := context.Background()
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", args...)
		return 1
	}
	root, err := testkit.WorkspaceRoot()
	if err != nil {
		return fail("%v", err)
	}
	work, err := os.MkdirTemp("", "tributary-e2e-")
	if err != nil {
		return fail("%v", err)
	}
	defer func() {
		if code == 0 {
			_ = os.RemoveAll(work)
		} else {
			fmt.Fprintf(os.Stderr, "e2e: service logs kept in %s\n", work)
		}
	}()

	start := time.Now()
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
	fmt.Printf("e2e: infrastructure (%s) up in %v: %+v\n", infra.Mode, time.Since(start).Round(time.Millisecond), infra.Addrs)

	start = time.Now()
	if err := harness.Build(ctx, root, work); err != nil {
		return fail("%v", err)
	}
	fmt.Printf("e2e: services built in %v\n", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	platform, err := harness.Start(work, work, infra.Addrs, map[string][]string{"ingest": ingestEnv()})
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
	if err := platform.WaitReady(ctx, 90*time.Second); err != nil {
		return fail("%v", err)
	}
	fmt.Printf("e2e: six services ready in %v\n", time.Since(start).Round(time.Millisecond))
	return m.Run()
}
