// Package httpload is the HTTP side of the benchmarks' load generators: a
// keep-alive HTTP/1.1 connection that writes a request from bytes made
// once and reads the answer with as little work as HTTP allows, so that a
// generator on the same cores as the servers it measures takes as little of
// them as it can (net/http's client cost about 50 µs of CPU a request on
// the 2-core development machine).
package httpload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Conn is one keep-alive HTTP/1.1 connection to Addr, for one worker at a
// time; it dials on first use and again after an error.
type Conn struct {
	Addr string

	c   net.Conn
	r   *bufio.Reader
	buf []byte
}

// Post sends body to path and reads the answer, which must be 200.
func (h *Conn) Post(path string, body []byte) error {
	if h.c == nil {
		c, err := net.DialTimeout("tcp", h.Addr, 5*time.Second)
		if err != nil {
			return err
		}
		h.c, h.r = c, bufio.NewReaderSize(c, 32<<10)
	}
	h.buf = append(h.buf[:0], "POST "...)
	h.buf = append(h.buf, path...)
	h.buf = append(h.buf, " HTTP/1.1\r\nHost: "...)
	h.buf = append(h.buf, h.Addr...)
	h.buf = append(h.buf, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	h.buf = strconv.AppendInt(h.buf, int64(len(body)), 10)
	h.buf = append(h.buf, "\r\n\r\n"...)
	h.buf = append(h.buf, body...)
	_ = h.c.SetDeadline(time.Now().Add(30 * time.Second))
	status, err := h.exchange()
	if err != nil {
		h.Close()
		return err
	}
	if status != 200 {
		return fmt.Errorf("%s: status %d", path, status)
	}
	return nil
}

// Close closes the connection; the next Post dials again.
func (h *Conn) Close() {
	if h.c != nil {
		_ = h.c.Close()
		h.c, h.r = nil, nil
	}
}

// ErrFormat is an answer that is not HTTP/1.1 as this reader knows it.
var ErrFormat = errors.New("malformed HTTP answer")

// exchange writes h.buf and reads one answer, returning its status.
func (h *Conn) exchange() (int, error) {
	if _, err := h.c.Write(h.buf); err != nil {
		return 0, err
	}
	line, err := h.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, ErrFormat
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, ErrFormat
	}
	length, chunked, closing := -1, false, false
	for {
		line, err := h.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, ErrFormat
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, ErrFormat
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.EqualFold(v, []byte("close"))
		}
	}
	switch {
	case chunked:
		if err := h.discardChunks(); err != nil {
			return 0, err
		}
	case length >= 0:
		if _, err := h.r.Discard(length); err != nil {
			return 0, err
		}
	default: // the body runs to the end of the connection
		_, _ = io.Copy(io.Discard, h.r)
		closing = true
	}
	if closing {
		h.Close()
	}
	return status, nil
}

func (h *Conn) discardChunks() error {
	for {
		line, err := h.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil {
			return ErrFormat
		}
		if n == 0 { // trailers end with an empty line
			for {
				line, err := h.r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := h.r.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}
