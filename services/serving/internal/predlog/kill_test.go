package predlog_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-ml/tributary/services/serving/internal/predlog"
)

// killChildEnv makes the test binary the child of TestKillReplaysSpill.
const killChildEnv = "PREDLOG_KILL_CHILD_DIR"

// TestKillChild is the child: it logs records to a Kafka that never
// answers, says how many it spilled, and waits to be killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killChildEnv)
	if dir == "" {
		t.Skip("the child of TestKillReplaysSpill")
	}
	cfg := fakeConfig(dir)
	cfg.SpillSyncInterval = time.Hour // a process crash must not need the fsync
	l, err := predlog.New(cfg, &recorder{}, discard(), prometheus.NewRegistry())
	if err != nil {
		fmt.Println("error", err)
		return
	}
	go l.Run(context.Background()) //nolint:errcheck // killed, never returns
	const n = 1000
	for i := range n {
		for !l.Log(entry(i, 3)) {
			time.Sleep(time.Millisecond)
		}
	}
	for l.Stats().Spilled < n-int64(cfg.MaxBufferedRecords) {
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("spilled %d\n", l.Stats().Spilled)
	select {} // until SIGKILL
}

// TestKillReplaysSpill: a serving process killed with SIGKILL while Kafka
// was down leaves its spill; a new process sends every spilled record, in
// order, once. What was only in memory (the first MaxBufferedRecords) is
// lost, as the README says.
func TestKillReplaysSpill(t *testing.T) {
	if os.Getenv(killChildEnv) != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the child did not spill in time")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for range lines {
	}
	if !strings.HasPrefix(line, "spilled ") {
		t.Fatalf("child said %q", line)
	}
	const memory, n = 50, 1000
	got := replay(t, dir, n-memory)
	if want := ids(memory, n); !slices.Equal(got, want) {
		t.Fatalf("after the kill, replayed %d records %v..., want %d from %d", len(got), got[:min(5, len(got))], len(want), memory)
	}
}
