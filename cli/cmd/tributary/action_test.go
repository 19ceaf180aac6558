package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestActionHelp: "-h" after the action prints the command's help and exits
// 0, instead of taking "-h" for a file (or a stream) name; flags after the
// action are flags, and "--" lets a file name start with "-".
func TestActionHelp(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"features", "apply", "-h"}, 0, "Usage: tributary features apply FILE"},
		{[]string{"features", "list", "-help"}, 0, "Usage: tributary features apply FILE"},
		{[]string{"features", "-h"}, 0, "Usage: tributary features apply FILE"},
		{[]string{"streams", "apply", "-h"}, 0, "Usage: tributary streams apply FILE"},
		{[]string{"streams", "delete", "-h"}, 0, "Usage: tributary streams apply FILE"},
		{[]string{"streams", "apply", "--help"}, 0, "Usage: tributary streams apply FILE"},
		{[]string{"datasets", "-h"}, 0, "tributary datasets build"},
		{[]string{"datasets", "build", "-h"}, 0, "tributary datasets build"},
		// A flag after the action is parsed (and checked) as a flag.
		{[]string{"features", "apply", "-timeout", "0s", "x.yaml"}, 1, "-timeout: must be positive"},
		{[]string{"streams", "list", "-timeout", "0s"}, 1, "-timeout: must be positive"},
		{[]string{"features", "apply", "-nope", "x.yaml"}, 1, "flag provided but not defined: -nope"},
		// After "--" a name starting with "-" is a file.
		{[]string{"features", "apply", "--", "-h"}, 1, "open -h: no such file"},
		{[]string{"streams", "apply", "--", "-h"}, 1, "open -h: no such file"},
	} {
		var out, errOut bytes.Buffer
		code := run(ctx, tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, output %q %q; want %d containing %q", tc.args, code, out.String(), errOut.String(), tc.code, tc.want)
		}
	}
}
