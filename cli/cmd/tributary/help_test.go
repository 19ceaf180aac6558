package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestHelp")

// TestHelp keeps the help of every command a user reaches in
// testdata/help/*.golden: a change to the help shows in the diff of the
// review. go test -run TestHelp -update rewrites the files.
func TestHelp(t *testing.T) {
	cases := map[string][]string{
		"tributary":    {"help"},
		"streams":      {"streams", "-h"},
		"features":     {"features", "-h"},
		"datasets":     {"datasets", "build", "-h"},
		"models":       {"models", "help"},
		"models-apply": {"models", "apply", "-h"},
		"models-flags": {"models", "list", "-h"},
		"train":        {"train", "-h"},
		"runs":         {"runs", "list", "-h"},
		"predict":      {"predict", "-h"},
		"drift":        {"drift", "-h"},
		"status":       {"status", "-h"},
		"check":        {"check", "-h"},
		"bootstrap":    {"bootstrap", "-h"},
		"migrate":      {"migrate", "-h"},
		"generate":     {"generate", "-h"},
	}
	// Every command has a golden file.
	for name := range commands() {
		if _, ok := cases[name]; !ok {
			t.Errorf("command %s has no help case", name)
		}
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if code := run(context.Background(), args, &out, &out); code != 0 {
				t.Fatalf("%v: exit %d:\n%s", args, code, out.String())
			}
			path := filepath.Join("testdata", "help", name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -run TestHelp -update writes it)", err)
			}
			if got := out.String(); got != string(want) {
				t.Errorf("%v: the help changed (go test -run TestHelp -update accepts it):\n%s", args, diffLines(string(want), got))
			}
		})
	}
}

// TestHelpListsEveryCommand: the top-level help lists each command once,
// in the loop or in the set-up.
func TestHelpListsEveryCommand(t *testing.T) {
	listed := map[string]int{}
	for _, n := range append(append([]string{}, loopCommands...), setupCommands...) {
		listed[n]++
	}
	for name := range commands() {
		if listed[name] != 1 {
			t.Errorf("command %s is listed %d times in the help", name, listed[name])
		}
	}
	if len(listed) != len(commands()) {
		t.Errorf("the help lists %d commands, there are %d", len(listed), len(commands()))
	}
}

// diffLines shows the lines that differ, numbered.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  - " + wl + "\n  + " + gl + "\n")
		}
	}
	return b.String()
}
