package drift

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestReferenceVectorsReproduce reruns testdata/reference.py with
// TRIBUTARY_PYTHON (the pinned environment of `make pyenv`, which has
// scipy and numpy) and checks that it prints the committed vectors byte for
// byte, so the vectors are what the script says. It is skipped under
// -short (the committed vectors are still checked by the other tests) and
// fails without TRIBUTARY_PYTHON, which make test sets.
func TestReferenceVectorsReproduce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scipy (-short)")
	}
	python := os.Getenv("TRIBUTARY_PYTHON")
	if python == "" {
		t.Fatal("TRIBUTARY_PYTHON is not set: run `make pyenv` and the tests with `make test`, or export TRIBUTARY_PYTHON=<venv>/bin/python")
	}
	want, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, "testdata/reference.py")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run reference.py: %v\n%s", err, stderr.String())
	}
	if !bytes.Equal(stdout.Bytes(), want) {
		t.Errorf("reference.py prints %d bytes that differ from the committed %d of testdata/reference.json: regenerate it", stdout.Len(), len(want))
	}
}
