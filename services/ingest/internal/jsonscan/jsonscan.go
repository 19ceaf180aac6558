// Package jsonscan is the inner loop ingest's JSON readers share: finding
// the end of the plain run of a JSON string eight bytes at a time. The
// bytes of strings are most of an event (its payload), and a byte-by-byte
// loop over them was the largest cost of checking and cutting a batch.
package jsonscan

import "encoding/binary"

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
func SkipPlain(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if hasByte(x, '"')|hasByte(x, '\\')|hasLess(x, 0x20) != 0 {
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
