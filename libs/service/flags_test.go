package service

import (
	"errors"
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

func TestDescribeConfigError(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Duration("shutdown.timeout", time.Second, "")
	fs.String("nats.user", "", "")
	fs.String("nats.password", "", "")
	fs.String("kafka.brokers", "", "")
	fs.String("kafka.tls.cert-file", "", "")

	parse := func(args []string, env map[string]string) error {
		return ParseFlags(fs, args, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"bad value on the command line", parse([]string{"-shutdown.timeout=x"}, nil),
			[]string{"-shutdown.timeout", "TRIBUTARY_SHUTDOWN_TIMEOUT", "not a duration"}},
		{"bad value in the environment", parse(nil, map[string]string{"TRIBUTARY_SHUTDOWN_TIMEOUT": "x"}),
			[]string{"-shutdown.timeout", "TRIBUTARY_SHUTDOWN_TIMEOUT", "not a duration"}},
		{"validation error naming one flag", errors.New("kafka.brokers: at least one broker is required"),
			[]string{"-kafka.brokers", "TRIBUTARY_KAFKA_BROKERS"}},
		{"two flags", errors.New("nats.user and nats.password must be set together"),
			[]string{"-nats.user", "TRIBUTARY_NATS_USER", "-nats.password", "TRIBUTARY_NATS_PASSWORD"}},
		{"joined errors stay on one line", errors.Join(errors.New("kafka.brokers: empty"), errors.New("kafka.tls.cert-file and tls.key-file must be set together")),
			[]string{"TRIBUTARY_KAFKA_BROKERS", "TRIBUTARY_KAFKA_TLS_CERT_FILE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("no error to describe")
			}
			got := describeConfigError(fs, tc.err)
			if strings.Contains(got, "\n") {
				t.Errorf("%q spans lines", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q does not mention %s", got, w)
				}
			}
			if n := strings.Count(got, "TRIBUTARY_SHUTDOWN_TIMEOUT"); n > 1 {
				t.Errorf("%q names the variable %d times", got, n)
			}
		})
	}
}

func TestMarkdownFlags(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.String("b.addr", ":1", "Listen | address.")
	fs.Bool("a.on", false, "Turn it on.")
	got := MarkdownFlags(fs)
	want := "| Flag | Environment variable | Default | Description |\n" +
		"|---|---|---|---|\n" +
		"| `-a.on` | `TRIBUTARY_A_ON` | `false` | Turn it on. |\n" +
		"| `-b.addr` | `TRIBUTARY_B_ADDR` | `:1` | Listen \\| address. |\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPrintUsage(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.String("http.addr", ":8081", "Listen address.")
	fs.Duration("shutdown.delay", 0, "Delay.")
	var b strings.Builder
	printUsage(&b, "ingest", fs)
	for _, w := range []string{
		"Usage: ingest [flags]",
		"  -http.addr string  (TRIBUTARY_HTTP_ADDR)\n    \tListen address. (default \":8081\")\n",
		"  -shutdown.delay duration  (TRIBUTARY_SHUTDOWN_DELAY)\n    \tDelay.\n",
	} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("usage lacks %q:\n%s", w, b.String())
		}
	}
}
