package jsonscan

import (
	"encoding/json"
	"testing"
)

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
	s := payloadRun()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if SkipPlain(s, 0) != 700 {
			b.Fatal("wrong end")
		}
	}
}

// TestSkipPlainEveryPlace puts the byte that ends a run at every place of
// runs up to 40 bytes long, from every start: the word loops and the
// tail all find it.
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

// closingQuoteBytes is ClosingQuote one byte at a time, the reference: an
// escape's next byte is skipped.
func closingQuoteBytes(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i
		case '\\':
			i++
		}
	}
	return len(b)
}

func TestClosingQuote(t *testing.T) {
	for _, tc := range []string{
		`"`, `abc"`, `a\"b"`, `a\\"b"`, `a\\\"b"`, `\\\\"`, `\"\"\""`, `\u0022x"`, `no end`, ``,
		`\\\\\\\\\\\\\\\\\\\\"x"`, `héllo wörld"`,
	} {
		if got, want := ClosingQuote([]byte(tc), 0), closingQuoteBytes([]byte(tc), 0); got != want {
			t.Errorf("ClosingQuote(%q, 0) = %d, want %d", tc, got, want)
		}
	}
}

// FuzzClosingQuote encodes any string as encoding/json does (valid JSON,
// the input ClosingQuote is for) and finds its closing quote, which must
// be the encoding's last byte.
func FuzzClosingQuote(f *testing.F) {
	f.Add("plain", "")
	f.Add(`a"b\\c\"`, "tail\"")
	f.Add("\x00\x1f\u2028", `"`)
	f.Fuzz(func(t *testing.T, s, tail string) {
		q, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		b := append(q, tail...)
		if got := ClosingQuote(b, 1); got != len(q)-1 {
			t.Fatalf("ClosingQuote(%q, 1) = %d, want %d", b, got, len(q)-1)
		}
		if got, want := ClosingQuote(b, 1), closingQuoteBytes(b, 1); got != want {
			t.Fatalf("ClosingQuote(%q, 1) = %d, the byte loop %d", b, got, want)
		}
	})
}

// TestClosingQuoteEveryPlace puts a closing quote, and escapes before it,
// at every place of strings up to 80 bytes: the word loop, the switch to
// IndexByte at 32 bytes and an escape that straddles it all find it.
func TestClosingQuoteEveryPlace(t *testing.T) {
	for n := range 80 {
		for _, esc := range []string{"", `\"`, `\\`, `\\\"`, `\u0041`} {
			for at := 0; at+len(esc) <= n; at++ {
				b := make([]byte, 0, n+2)
				for len(b) < at {
					b = append(b, 'a'+byte(len(b)%26))
				}
				b = append(b, esc...)
				for len(b) < n {
					b = append(b, 'a'+byte(len(b)%26))
				}
				b = append(b, '"', 'z')
				if got, want := ClosingQuote(b, 0), closingQuoteBytes(b, 0); got != want || got != n {
					t.Fatalf("ClosingQuote(%q, 0) = %d, want %d (the byte loop: %d)", b, got, n, want)
				}
			}
		}
	}
}

// BenchmarkClosingQuote is BenchmarkSkipPlain's run for ClosingQuote.
func BenchmarkClosingQuote(b *testing.B) {
	s := payloadRun()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if ClosingQuote(s, 0) != 700 {
			b.Fatal("wrong end")
		}
	}
}

// TestSkipPlainAcrossWindows puts the byte that ends a run at and around
// the edges of SkipPlain's windows, in runs up to three windows long,
// from starts inside the first word and across the first edge.
func TestSkipPlainAcrossWindows(t *testing.T) {
	var places []int
	for _, edge := range []int{0, plainWindow, 2 * plainWindow} {
		for d := -9; d <= 9; d++ {
			if edge+d >= 0 {
				places = append(places, edge+d)
			}
		}
	}
	for _, n := range []int{plainWindow - 1, plainWindow, plainWindow + 1, 3*plainWindow + 5} {
		for _, at := range append(places, n) {
			if at > n {
				continue
			}
			for _, c := range []byte{'"', '\\', 0, 0x1f} {
				b := make([]byte, n)
				for i := range b {
					b[i] = '#' + byte(i%90) // printable, no quote
					if b[i] == '\\' {
						b[i] = 'x'
					}
				}
				if at < n {
					b[at] = c
				}
				for _, from := range []int{0, 1, 7, plainWindow - 3, plainWindow + 2} {
					if from > n {
						continue
					}
					if got, want := SkipPlain(b, from), skipPlainBytes(b, from); got != want {
						t.Fatalf("n=%d, %q at %d, from %d: SkipPlain = %d, want %d", n, c, at, from, got, want)
					}
				}
			}
		}
	}
}

// BenchmarkSkipPlainShort is the run of a member name.
func BenchmarkSkipPlainShort(b *testing.B) {
	s := []byte(`user_id":"user-42"`)
	for b.Loop() {
		if SkipPlain(s, 0) != 7 {
			b.Fatal("wrong end")
		}
	}
}

// payloadRun is a benchmark event's payload: 700 plain bytes and the
// closing quote.
func payloadRun() []byte {
	s := make([]byte, 701)
	for i := range s {
		s[i] = 'x'
	}
	s[700] = '"'
	return s
}
