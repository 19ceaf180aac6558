package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/libs/model"
)

// The spool file of an upload killed mid-way (no process holds its lock)
// is removed at the next start; that of an upload in progress is kept,
// also when another process on the same directory cleans up.
func TestCleanSpool(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "tributary-registry-upload-12345")
	if err := os.WriteFile(stale, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "not-a-spool-file")
	if err := os.WriteFile(other, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	live, err := createSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := live.fill(strings.NewReader("in progress")); err != nil {
		t.Fatal(err)
	}
	n, err := CleanSpool(dir)
	if err != nil || n != 1 {
		t.Fatalf("clean: removed %d, %v; want 1", n, err)
	}
	for path, want := range map[string]bool{stale: false, other: true, live.f.Name(): true} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", filepath.Base(path), err == nil, want)
		}
	}
	live.remove()
	if _, err := os.Stat(live.f.Name()); !os.IsNotExist(err) {
		t.Fatalf("spool file after the upload: %v", err)
	}
	if n, err := CleanSpool(dir); err != nil || n != 0 {
		t.Fatalf("second clean: %d, %v", n, err)
	}
}

// A body that fails while it is read is the request's fault; its error
// keeps its *model.Error (the HTTP API's too_large).
func TestSpoolBodyErrors(t *testing.T) {
	sp, err := createSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.remove()
	if _, err := sp.fill(errReader{model.Errorf(model.CodeTooLarge, "artifact: larger than 1 bytes")}); model.CodeOf(err) != model.CodeTooLarge {
		t.Fatalf("too large body: %v", err)
	}
	if _, err := sp.fill(errReader{os.ErrDeadlineExceeded}); model.CodeOf(err) != model.CodeInvalidRequest {
		t.Fatalf("broken body: %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
