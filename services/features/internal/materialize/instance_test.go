package materialize_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tributary-ml/tributary/services/features/internal/materialize"
)

func TestDefaultInstanceID(t *testing.T) {
	host := func(name string) func() (string, error) { return func() (string, error) { return name, nil } }
	for _, c := range []struct {
		name     string
		hostname func() (string, error)
		addr     string
		want     string
		wantErr  string
	}{
		{"any address", host("node-1"), "[::]:8082", "node-1-8082", ""},
		{"loopback", host("node-1"), "127.0.0.1:9182", "node-1-9182", ""},
		{"fqdn", host("feat-0.features.svc"), "0.0.0.0:8082", "feat-0.features.svc-8082", ""},
		{"odd host name", host("my host:x"), ":8082", "my_host_x-8082", ""},
		{"no host name", func() (string, error) { return "", errors.New("uname failed") }, ":8082", "", "uname failed"},
		{"port 0", host("node-1"), "127.0.0.1:0", "", "no listen port"},
		{"no port", host("node-1"), "localhost", "", "no listen port"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := materialize.DefaultInstanceID(c.hostname, c.addr)
			switch {
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			case c.wantErr == "" && err != nil:
				t.Fatal(err)
			case got != c.want:
				t.Errorf("id %q, want %q", got, c.want)
			}
			if err == nil {
				// The flag would accept the default too.
				cfg := materialize.Config{Group: "g", MaxRecords: 1, Backoff: 1, ReadyMaxLag: 1, InstanceID: got}
				if err := cfg.Validate(); err != nil {
					t.Errorf("default %q does not validate: %v", got, err)
				}
			}
		})
	}
}
