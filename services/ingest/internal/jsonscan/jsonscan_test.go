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

// BenchmarkSkipPlain is the run of a benchmark event's payload: 700 plain
// bytes and the closing quote.
func BenchmarkSkipPlain(b *testing.B) {
	s := make([]byte, 701)
	for i := range s {
		s[i] = 'x'
	}
	s[700] = '"'
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if SkipPlain(s, 0) != 700 {
			b.Fatal("wrong end")
		}
	}
}

// TestSkipPlainEveryPlace puts the byte that ends a run at every place of
// runs up to 40 bytes long, from every start: the 16-byte and the 8-byte
// loops and the tail all find it.
func TestSkipPlainEveryPlace(t *testing.T) {
	for n := range 40 {
		for at := range n + 1 {
			for _, c := range []byte{'"', '\\', 0, 0x1f} {
				b := make([]byte, n)
				for i := range b {
					b[i] = 'a' + byte(i%26)
				}
				if at < n {
					b[at] = c
				}
				for from := range n + 1 {
					if got, want := SkipPlain(b, from), skipPlainBytes(b, from); got != want {
						t.Fatalf("SkipPlain(%q, %d) = %d, want %d", b, from, got, want)
					}
				}
			}
		}
	}
}
