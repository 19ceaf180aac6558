package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

// readBodyBefore is readBody as it was (bytes.Buffer's ReadFrom into a
// buffer of the announced length plus one), the reference of
// TestReadBody.
func readBodyBefore(r *http.Request, limit int) ([]byte, error) {
	lr := io.LimitReader(r.Body, int64(limit)+1)
	if r.ContentLength <= 0 || r.ContentLength > int64(limit) {
		return io.ReadAll(lr)
	}
	buf := bytes.NewBuffer(make([]byte, 0, r.ContentLength+1))
	_, err := buf.ReadFrom(lr)
	return buf.Bytes(), err
}

// TestReadBody: readBody reads what it read before, bytes and error, for
// bodies of the announced length, shorter, longer, cut by an error, read a
// byte at a time, unannounced, and over the limit.
func TestReadBody(t *testing.T) {
	const limit = 100
	body := strings.Repeat("abcdefghij", 9) // 90 bytes
	broken := errors.New("connection reset")
	for _, tc := range []struct {
		name   string
		length int64
		body   func() io.Reader
	}{
		{"announced", 90, func() io.Reader { return strings.NewReader(body) }},
		{"announced, a byte at a time", 90, func() io.Reader { return iotest.OneByteReader(strings.NewReader(body)) }},
		{"announced, the end with the last bytes", 90, func() io.Reader { return iotest.DataErrReader(strings.NewReader(body)) }},
		{"shorter than announced", 95, func() io.Reader { return strings.NewReader(body) }},
		{"cut by an error", 95, func() io.Reader {
			return io.MultiReader(strings.NewReader(body), iotest.ErrReader(io.ErrUnexpectedEOF))
		}},
		{"an error after the announced length", 90, func() io.Reader { return io.MultiReader(strings.NewReader(body), iotest.ErrReader(broken)) }},
		{"longer than announced", 50, func() io.Reader { return strings.NewReader(body) }},
		{"longer than announced and the limit", 50, func() io.Reader { return strings.NewReader(body + body) }},
		{"announced at the limit", limit, func() io.Reader { return strings.NewReader(body + "0123456789") }},
		{"unannounced", -1, func() io.Reader { return strings.NewReader(body) }},
		{"unannounced, over the limit", -1, func() io.Reader { return strings.NewReader(body + body) }},
		{"announced over the limit", 2 * limit, func() io.Reader { return strings.NewReader(body + body + body) }},
		{"empty", 0, func() io.Reader { return strings.NewReader("") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			request := func() *http.Request {
				return &http.Request{ContentLength: tc.length, Body: io.NopCloser(tc.body())}
			}
			want, wantErr := readBodyBefore(request(), limit)
			got, err := readBody(request(), limit)
			if !bytes.Equal(got, want) || !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
				t.Fatalf("readBody: %q, %v; before: %q, %v", got, err, want, wantErr)
			}
		})
	}
}
