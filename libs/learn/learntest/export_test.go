package learntest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFixturesAreTheScriptsOutput runs testdata/export.py and
// bench/sklearn_bench.py --write-check with TRIBUTARY_PYTHON (the
// environment of `make pyenv`) and wants every committed file back byte for
// byte, and the JSON files with the same numbers to 1e-9 (BLAS and thread
// counts move the last bits of fitted coefficients): the fixtures and
// references are what the scripts make with the pinned scikit-learn, not
// edited by hand.
func TestFixturesAreTheScriptsOutput(t *testing.T) {
	python := os.Getenv("TRIBUTARY_PYTHON")
	if python == "" {
		if testing.Short() {
			t.Skip("TRIBUTARY_PYTHON is not set; skipped with -short")
		}
		t.Fatal("TRIBUTARY_PYTHON is not set: run `make pyenv` and set it to what `deploy/local/pyenv.sh path` prints " +
			"(`make test` does both), e.g. TRIBUTARY_PYTHON=$(deploy/local/pyenv.sh ensure) go test ./...")
	}
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(args ...string) {
		t.Helper()
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, python, args...)
		cmd.Stderr = &stderr
		// One thread: OpenMP's spinning workers crawl on a busy machine.
		cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1")
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v with TRIBUTARY_PYTHON=%s: %v\n%s", args, python, err, stderr.String())
		}
	}
	start := time.Now()
	run(filepath.Join(dir, "export.py"), out)
	run(filepath.Join(dir, "..", "bench", "sklearn_bench.py"), "--write-check", filepath.Join(out, "synthetic_check.json"))
	t.Logf("exported in %v", time.Since(start).Round(time.Millisecond))
	made, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(made) < 10 {
		t.Fatalf("the scripts wrote %d files", len(made))
	}
	for _, e := range made {
		got, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Errorf("%s is made by the scripts but not committed: %v", e.Name(), err)
			continue
		}
		same := bytes.Equal(got, committed)
		if !same && strings.HasSuffix(e.Name(), ".json") {
			var a, b any
			if json.Unmarshal(got, &a) == nil && json.Unmarshal(committed, &b) == nil {
				if where := jsonDiff(a, b, ""); where != "" {
					t.Errorf("testdata/%s differs at %s from what the scripts make now (re-run them, see testdata/README.md)", e.Name(), where)
				}
				continue
			}
		}
		if !same {
			t.Errorf("testdata/%s differs from what the scripts make now (re-run them, see testdata/README.md)", e.Name())
		}
	}
}

// jsonDiff returns where a and b differ (numbers by more than 1e-9
// relative), or "" when they do not.
func jsonDiff(a, b any, at string) string {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return at + " (keys)"
		}
		for k, v := range a {
			if w := jsonDiff(v, bm[k], at+"/"+k); w != "" {
				return w
			}
		}
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return at + " (length)"
		}
		for i := range a {
			if w := jsonDiff(a[i], bs[i], fmt.Sprintf("%s[%d]", at, i)); w != "" {
				return w
			}
		}
	case float64:
		bf, ok := b.(float64)
		if !ok || math.Abs(a-bf) > 1e-9*math.Max(1, math.Abs(bf)) {
			return fmt.Sprintf("%s (%v, committed %v)", at, a, b)
		}
	default:
		if a != b {
			return fmt.Sprintf("%s (%v, committed %v)", at, a, b)
		}
	}
	return ""
}

func TestJSONDiff(t *testing.T) {
	cases := []struct {
		a, b string
		same bool
	}{
		{`{"x":[1,2.5,"s",true]}`, `{"x":[1,2.5,"s",true]}`, true},
		{`{"x":0.30000000000000004}`, `{"x":0.3}`, true},
		{`{"x":0.3001}`, `{"x":0.3}`, false},
		{`{"x":[1,2]}`, `{"x":[1]}`, false},
		{`{"x":1,"y":2}`, `{"x":1,"z":2}`, false},
		{`{"x":"a"}`, `{"x":"b"}`, false},
		{`{"x":1}`, `{"x":"1"}`, false},
	}
	for _, tc := range cases {
		var a, b any
		if err := json.Unmarshal([]byte(tc.a), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tc.b), &b); err != nil {
			t.Fatal(err)
		}
		if got := jsonDiff(a, b, ""); (got == "") != tc.same {
			t.Errorf("jsonDiff(%s, %s) = %q, want same=%v", tc.a, tc.b, got, tc.same)
		}
	}
}
