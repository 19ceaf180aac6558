package check

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the directory of go.work above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.work above %s", dir)
		}
	}
}

// envName is libs/service.EnvName, repeated so that this module needs
// nothing of libs.
func envName(flag string) string {
	return "TRIBUTARY_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(flag))
}

// compareGolden compares got with the file, or rewrites the file with
// UPDATE_GOLDEN=1 (as libs/service/servicetest does for help files).
func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (UPDATE_GOLDEN=1 go test ./... writes it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what was rendered; review the change and rewrite it with UPDATE_GOLDEN=1 go test ./...\n%s", path, firstDiff(want, got))
	}
}

func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "first difference at line " + strconv.Itoa(i+1) + ":\n  golden:   " + a + "\n  rendered: " + b
		}
	}
	return ""
}
