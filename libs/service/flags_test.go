package service

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{
		"kafka.brokers":     "TRIBUTARY_KAFKA_BROKERS",
		"http.addr":         "TRIBUTARY_HTTP_ADDR",
		"kafka.tls.ca-file": "TRIBUTARY_KAFKA_TLS_CA_FILE",
		"shutdown-timeout":  "TRIBUTARY_SHUTDOWN_TIMEOUT",
	} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	newFS := func() (*flag.FlagSet, *string, *time.Duration) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		addr := fs.String("http.addr", ":8080", "")
		timeout := fs.Duration("shutdown.timeout", time.Second, "")
		return fs, addr, timeout
	}
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}

	t.Run("env fills flags not given", func(t *testing.T) {
		fs, addr, timeout := newFS()
		err := ParseFlags(fs, nil, env(map[string]string{"TRIBUTARY_HTTP_ADDR": ":9999", "TRIBUTARY_SHUTDOWN_TIMEOUT": "5s"}))
		if err != nil {
			t.Fatal(err)
		}
		if *addr != ":9999" || *timeout != 5*time.Second {
			t.Fatalf("got addr %q timeout %v", *addr, *timeout)
		}
	})
	t.Run("command line wins over env", func(t *testing.T) {
		fs, addr, _ := newFS()
		if err := ParseFlags(fs, []string{"-http.addr", ":1"}, env(map[string]string{"TRIBUTARY_HTTP_ADDR": ":2"})); err != nil {
			t.Fatal(err)
		}
		if *addr != ":1" {
			t.Fatalf("got %q, want :1", *addr)
		}
	})
	t.Run("defaults stay without env", func(t *testing.T) {
		fs, addr, timeout := newFS()
		if err := ParseFlags(fs, nil, env(nil)); err != nil {
			t.Fatal(err)
		}
		if *addr != ":8080" || *timeout != time.Second {
			t.Fatalf("got addr %q timeout %v", *addr, *timeout)
		}
	})
	t.Run("bad env value names flag and variable", func(t *testing.T) {
		fs, _, _ := newFS()
		err := ParseFlags(fs, nil, env(map[string]string{"TRIBUTARY_SHUTDOWN_TIMEOUT": "soon"}))
		if err == nil {
			t.Fatal("want error")
		}
		for _, part := range []string{"-shutdown.timeout", "TRIBUTARY_SHUTDOWN_TIMEOUT", `"soon"`} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("error %q does not mention %s", err, part)
			}
		}
	})
	t.Run("bad command line value fails", func(t *testing.T) {
		fs, _, _ := newFS()
		if err := ParseFlags(fs, []string{"-shutdown.timeout", "x"}, env(nil)); err == nil {
			t.Fatal("want error")
		}
	})
}
