package tiles

import (
	"errors"
	"slices"
	"testing"
)

// TestSplitHMGet: the raw replies to an HMGET of 3 fields, RESP2 and
// RESP3, split into the values (nil for a missing field); error replies are
// errors, anything malformed ErrCorrupt.
func TestSplitHMGet(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		want    [][]byte
		corrupt bool   // ErrCorrupt
		errMsg  string // an error reply's text
	}{
		{name: "resp2", reply: "*3\r\n$2\r\nab\r\n$-1\r\n$0\r\n\r\n", want: [][]byte{[]byte("ab"), nil, {}}},
		{name: "resp3 nulls", reply: "*3\r\n_\r\n_\r\n$4\r\na\r\nb\r\n", want: [][]byte{nil, nil, []byte("a\r\nb")}},
		{name: "binary", reply: "*3\r\n$3\r\n\x00\xff\n\r\n$1\r\n*\r\n_\r\n", want: [][]byte{{0, 0xff, '\n'}, []byte("*"), nil}},
		{name: "error", reply: "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", errMsg: "redis: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{name: "blob error", reply: "!8\r\nERR a\r\nb\r\n", errMsg: "redis: ERR a\r\nb"},
		{name: "fewer values", reply: "*2\r\n$1\r\na\r\n$1\r\nb\r\n", corrupt: true},
		{name: "more values", reply: "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n", corrupt: true},
		{name: "truncated", reply: "*3\r\n$1\r\na\r\n$5\r\nab", corrupt: true},
		{name: "no crlf after a value", reply: "*3\r\n$1\r\nab\r\n_\r\n_\r\n", corrupt: true},
		{name: "trailing bytes", reply: "*3\r\n_\r\n_\r\n_\r\n+OK\r\n", corrupt: true},
		{name: "not a string", reply: "*3\r\n:1\r\n_\r\n_\r\n", corrupt: true},
		{name: "not an array", reply: "$1\r\na\r\n", corrupt: true},
		{name: "empty", reply: "", corrupt: true},
		{name: "bad length", reply: "*3\r\n$x\r\n_\r\n_\r\n", corrupt: true},
		{name: "negative length", reply: "*3\r\n$-2\r\n_\r\n_\r\n", corrupt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := make([][]byte, 3)
			err := splitHMGet([]byte(tt.reply), vals)
			switch {
			case tt.corrupt:
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v, want ErrCorrupt", err)
				}
			case tt.errMsg != "":
				var reply *errReply
				if !errors.As(err, &reply) || err.Error() != tt.errMsg || errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v, want the reply %q", err, tt.errMsg)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if !slices.EqualFunc(vals, tt.want, func(a, b []byte) bool { return (a == nil) == (b == nil) && string(a) == string(b) }) {
					t.Errorf("values %q, want %q", vals, tt.want)
				}
			}
		})
	}
}
