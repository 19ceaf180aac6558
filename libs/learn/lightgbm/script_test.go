package lightgbm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestScript runs the golden-vector script with TRIBUTARY_PYTHON (the venv
// of deploy/local/python/requirements.txt): the models it trains afresh must
// predict here what LightGBM predicts there, and its outputs must be the
// committed ones, so the committed vectors are what the pinned library
// computes. The legacy-format models need another venv and are not rerun.
func TestScript(t *testing.T) {
	python := os.Getenv("TRIBUTARY_PYTHON")
	if python == "" {
		if testing.Short() {
			t.Skip("TRIBUTARY_PYTHON is not set; skipped with -short")
		}
		t.Fatal("TRIBUTARY_PYTHON is not set: run `make pyenv` and set it to what `deploy/local/pyenv.sh path` prints " +
			"(`make test` does both), e.g. TRIBUTARY_PYTHON=$(deploy/local/pyenv.sh ensure) go test ./...")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/treemodels.py", "current", dir, "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run treemodels.py with TRIBUTARY_PYTHON=%s: %v\n%s", python, err, stderr.String())
	}
	for _, tt := range goldens {
		if strings.HasPrefix(tt.name, "v2_") || strings.HasPrefix(tt.name, "v3_") {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			checkGolden(t, dir, tt)
			fresh := readCSVIn(t, dir, tt.name+".expected.csv", 0)
			committed := readCSV(t, tt.name+".expected.csv", 0)
			if len(fresh) != len(committed) {
				t.Fatalf("the script now writes %d rows, testdata has %d: regenerate testdata", len(fresh), len(committed))
			}
			for i := range fresh {
				for k := range fresh[i] {
					if !near(fresh[i][k], committed[i][k]) {
						t.Fatalf("row %d output %d: the script now writes %.17g, testdata has %.17g: regenerate testdata",
							i, k, fresh[i][k], committed[i][k])
					}
				}
			}
		})
	}
	if a, b := readModelIn(t, dir, "inputs.csv"), readModelFile(t, "inputs.csv"); !bytes.Equal(a, b) {
		t.Error("the script now writes other inputs.csv than testdata's: regenerate testdata")
	}
}
