package httpload_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tributary-ml/tributary/libs/httpload"
)

// TestConn: a Conn reads answers with a length, chunked
// ones and errors, over one kept-alive connection.
func TestConn(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked":
			w.(http.Flusher).Flush() // no length: chunked
			fmt.Fprintf(w, "%s", strings.Repeat("x", 10000))
		case "/fail":
			http.Error(w, "no", http.StatusServiceUnavailable)
		default:
			_, _ = w.Write(b)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := &httpload.Conn{Addr: strings.TrimPrefix(srv.URL, "http://")}
	defer c.Close()
	for i := range 5 {
		for _, path := range []string{"/echo", "/chunked"} {
			if err := c.Post(path, []byte(`{"i":`+fmt.Sprint(i)+`}`)); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
	}
	if err := c.Post("/fail", nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a 503 answer: %v", err)
	}
	if err := c.Post("/echo", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1 kept alive", n)
	}
}
