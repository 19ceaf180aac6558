package jsonscan

import "testing"

// skipPlainBytes is SkipPlain one byte at a time, the reference.
func skipPlainBytes(b []byte, i int) int {
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return i
}

func TestSkipPlain(t *testing.T) {
	for _, tc := range []struct {
		in   string
		from int
	}{
		{"", 0}, {`abc`, 0}, {`abcdefghijklmnop"`, 0}, {`abcdefgh\ijkl`, 3}, {"abcdefghijk\x1fl", 0},
		{"\x7f\x80\xff\x20!#[]abcdefgh\"", 0}, {`"`, 0}, {`ab"cdefghijklmnopqrstu`, 2}, {"héllo wörld, ünïcode\"x", 0},
	} {
		if got, want := SkipPlain([]byte(tc.in), tc.from), skipPlainBytes([]byte(tc.in), tc.from); got != want {
			t.Errorf("SkipPlain(%q, %d) = %d, want %d", tc.in, tc.from, got, want)
		}
	}
}

func FuzzSkipPlain(f *testing.F) {
	f.Add([]byte(`abcdefghijklmnop"`), 0)
	f.Add([]byte("\x00\x1f\x20\"\\\x7f\x80\xff"), 1)
	f.Fuzz(func(t *testing.T, b []byte, from int) {
		if from < 0 || from > len(b) {
			return
		}
		if got, want := SkipPlain(b, from), skipPlainBytes(b, from); got != want {
			t.Fatalf("SkipPlain(%q, %d) = %d, want %d", b, from, got, want)
		}
	})
}
