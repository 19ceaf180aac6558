package event

import (
	"strings"
	"testing"
)

func TestHeaderValueEncoding(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "abc-123_./:?=&", "abc-123_./:?=&"},
		{"spec example", "Euro € 😀", "Euro%20%E2%82%AC%20%F0%9F%98%80"},
		{"quote and percent", `say "100%"`, "say%20%22100%25%22"},
		{"controls and del", "a\tb\r\n\x00\x7f", "a%09b%0D%0A%00%7F"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encodeHeaderValue(tt.in)
			if got != tt.want {
				t.Fatalf("encode(%q) = %q, want %q", tt.in, got, tt.want)
			}
			back, err := decodeHeaderValue(got)
			if err != nil || back != tt.in {
				t.Fatalf("decode(%q) = %q, %v; want %q", got, back, err, tt.in)
			}
		})
	}
}

func TestHeaderValueDecoding(t *testing.T) {
	tests := []struct {
		name, in, want, err string
	}{
		{name: "lower-case hex", in: "%e2%82%ac", want: "€"},
		{name: "needlessly encoded", in: "%61%62c", want: "abc"},
		{name: "raw utf-8 accepted", in: "€", want: "€"},
		{name: "quoted", in: `"a b"`, want: "a b"},
		{name: "quoted with escapes", in: `"a \"b\" \\ c"`, want: `a "b" \ c`},
		{name: "quoted then percent-decoded once", in: `"%2525"`, want: "%25"},
		{name: "optional whitespace", in: "  x  ", want: "x"},
		{name: "overlong", in: "%C0%A0", err: "utf-8"},
		{name: "lone continuation byte", in: "%80", err: "utf-8"},
		{name: "raw invalid utf-8", in: "\xff", err: "utf-8"},
		{name: "bad hex", in: "%G1", err: "bad percent-encoding"},
		{name: "truncated", in: "ab%4", err: "truncated"},
		{name: "unescaped quote inside quotes", in: `"a"b"`, err: "double quote"},
		{name: "trailing backslash", in: `"a\"`, err: "backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeHeaderValue(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("decode(%q) = %q, %v; want error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("decode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
