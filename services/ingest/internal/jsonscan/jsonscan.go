// Package jsonscan is the inner loops ingest's JSON readers share: finding
// the end of the plain run of a JSON string (for the
// reader that checks the JSON), and the closing quote of a string in JSON
// already checked (for the readers after it). The bytes of strings are
// most of an event (its payload), and a byte-by-byte loop over them was
// the largest cost of checking and cutting a batch.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// hasLess reports (nonzero) whether a byte of x is below n (n <= 128);
// zero exactly when none is.
func hasLess(x uint64, n byte) uint64 { return (x - ones*uint64(n)) &^ x & highs }

// hasByte reports (nonzero) whether a byte of x is c; zero exactly when
// none is.
func hasByte(x uint64, c byte) uint64 { return hasLess(x^(ones*uint64(c)), 1) }

// SkipPlain returns the index of the first byte at or after i that ends
// the plain run inside a JSON string — a quote, a backslash or a control
// character below 0x20 — or len(b) when there is none.
//
// After the first 32 bytes it reads b a window of up to plainWindow bytes at a time: the first
// quote and the first backslash of the window are found by
// bytes.IndexByte (vector instructions), and only the bytes before them
// are tested for control characters, eight at a time: one test a word
// where looking for all three kinds of byte took three. A window never
// reads past its first quote or backslash twice, so a string of many
// escapes costs no more than its length.
func SkipPlain(b []byte, i int) int {
	// Short runs (member names, most values) a word at a time, looking for
	// all three kinds of byte: cheaper than starting IndexByte twice.
	for short := i + 32; i+8 <= len(b) && i < short; i += 8 {
		if m := ends(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8 // the lowest flagged byte is a match
		}
	}
	for i < len(b) {
		w := b[i:min(len(b), i+plainWindow)]
		full := len(w) == plainWindow
		if q := bytes.IndexByte(w, '"'); q >= 0 {
			w, full = w[:q], false
		}
		if k := bytes.IndexByte(w, '\\'); k >= 0 {
			w, full = w[:k], false
		}
		if c := firstControl(w); c < len(w) {
			return i + c
		}
		i += len(w)
		if !full {
			return i
		}
	}
	return len(b)
}

// ends reports (nonzero) whether a byte of x ends a plain run: a quote, a
// backslash or a control character.
func ends(x uint64) uint64 { return hasByte(x, '"') | hasByte(x, '\\') | hasLess(x, 0x20) }

// plainWindow is how far SkipPlain looks at once.
const plainWindow = 256

// firstControl returns the index of w's first byte below 0x20, or len(w).
func firstControl(w []byte) int {
	i := 0
	for ; i+32 <= len(w); i += 32 {
		x := w[i : i+32]
		x0, x1 := binary.LittleEndian.Uint64(x), binary.LittleEndian.Uint64(x[8:])
		x2, x3 := binary.LittleEndian.Uint64(x[16:]), binary.LittleEndian.Uint64(x[24:])
		if (hasLess(x0, 0x20) | hasLess(x1, 0x20) | hasLess(x2, 0x20) | hasLess(x3, 0x20)) != 0 {
			break
		}
	}
	for ; i+8 <= len(w); i += 8 {
		if m := hasLess(binary.LittleEndian.Uint64(w[i:]), 0x20); m != 0 {
			return i + bits.TrailingZeros64(m)/8 // the lowest flagged byte is a match
		}
	}
	for ; i < len(w); i++ {
		if w[i] < 0x20 {
			return i
		}
	}
	return i
}

// ClosingQuote returns the index of the quote that closes the JSON string
// whose contents start at b[i], in JSON known to be valid (a reader before
// checked it: no control character to stop at, every escape well formed),
// or len(b) when there is none. It looks for only two kinds of byte, where
// SkipPlain looks for three: in the first 32 bytes (member names and most
// attribute values end there) eight bytes at a time, after them with
// bytes.IndexByte, in vector instructions (16 times SkipPlain on a long
// payload, but slower to start): a quote found there closes the string
// unless an odd number of backslashes precede it.
func ClosingQuote(b []byte, i int) int {
	for short := i + 32; i+8 <= len(b) && i < short; {
		x := binary.LittleEndian.Uint64(b[i:])
		m := hasByte(x, '"') | hasByte(x, '\\')
		if m == 0 {
			i += 8
			continue
		}
		// The lowest flagged byte is a match (a higher one may be a
		// false one, of the borrow).
		j := i + bits.TrailingZeros64(m)/8
		if b[j] == '"' {
			return j
		}
		i = j + 2 // an escape: the byte after the backslash ends nothing
	}
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			break
		}
		j += i
		k := j
		for k > i && b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			return j
		}
		i = j + 1
	}
	return len(b)
}
