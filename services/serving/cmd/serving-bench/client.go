package main

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

// conn is one keep-alive HTTP/1.1 connection of one generator worker: the
// request is written from bytes made once and the answer read with as
// little work as HTTP allows, so that the generator, on the same two cores
// as the server, takes as little of them as it can (net/http's client cost
// about 50µs of CPU a request here).
type conn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	buf  []byte
}

// post sends body to path and reads the answer, which must be 200.
func (h *conn) post(path string, body []byte) error {
	if h.c == nil {
		c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
		if err != nil {
			return err
		}
		h.c, h.r = c, bufio.NewReaderSize(c, 32<<10)
	}
	h.buf = append(h.buf[:0], "POST "...)
	h.buf = append(h.buf, path...)
	h.buf = append(h.buf, " HTTP/1.1\r\nHost: "...)
	h.buf = append(h.buf, h.addr...)
	h.buf = append(h.buf, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	h.buf = strconv.AppendInt(h.buf, int64(len(body)), 10)
	h.buf = append(h.buf, "\r\n\r\n"...)
	h.buf = append(h.buf, body...)
	_ = h.c.SetDeadline(time.Now().Add(30 * time.Second))
	status, err := h.exchange()
	if err != nil {
		h.close()
		return err
	}
	if status != 200 {
		return fmt.Errorf("%s: status %d", path, status)
	}
	return nil
}

func (h *conn) close() {
	if h.c != nil {
		_ = h.c.Close()
		h.c, h.r = nil, nil
	}
}

var errFormat = errors.New("malformed HTTP answer")

// exchange writes h.buf and reads one answer, returning its status.
func (h *conn) exchange() (int, error) {
	if _, err := h.c.Write(h.buf); err != nil {
		return 0, err
	}
	line, err := h.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, errFormat
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errFormat
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
			return 0, errFormat
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, errFormat
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
		h.close()
	}
	return status, nil
}

func (h *conn) discardChunks() error {
	for {
		line, err := h.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil {
			return errFormat
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

// conns are the connections of a scenario's workers, each used by one
// worker only.
type conns []*conn

func newConns(addr string, n int) conns {
	cs := make(conns, n)
	for i := range cs {
		cs[i] = &conn{addr: addr}
	}
	return cs
}

func (cs conns) close() {
	for _, c := range cs {
		c.close()
	}
}
