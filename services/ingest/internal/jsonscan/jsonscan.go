// Package jsonscan is the inner loops ingest's JSON readers share: finding
// the end of the plain run of a JSON string eight bytes at a time (for the
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

// ends reports (nonzero) whether a byte of x ends a plain run: a quote, a
// backslash or a control character.
func ends(x uint64) uint64 { return hasByte(x, '"') | hasByte(x, '\\') | hasLess(x, 0x20) }

// SkipPlain returns the index of the first byte at or after i that ends
// the plain run inside a JSON string — a quote, a backslash or a control
// character below 0x20 — or len(b) when there is none.
func SkipPlain(b []byte, i int) int {
	// 32 bytes a round while no byte of them ends the run (one branch for
	// four words); then the word that holds the end, 8 bytes at a time.
	for ; i+32 <= len(b); i += 32 {
		w := b[i : i+32]
		x0, x1 := binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:])
		x2, x3 := binary.LittleEndian.Uint64(w[16:]), binary.LittleEndian.Uint64(w[24:])
		if ends(x0)|ends(x1)|ends(x2)|ends(x3) != 0 {
			break
		}
	}
	for ; i+8 <= len(b); i += 8 {
		if ends(binary.LittleEndian.Uint64(b[i:])) != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
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
