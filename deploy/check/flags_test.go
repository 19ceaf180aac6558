package check

import (
	"reflect"
	"testing"
)

func TestParseHelpAndUnknown(t *testing.T) {
	help := []byte("Usage: demo [flags]\n\n" +
		"  -http.addr string  (TRIBUTARY_HTTP_ADDR)\n    \tHTTP listen address. (default \":8081\")\n" +
		"  -kafka.tls.ca-file string  (TRIBUTARY_KAFKA_TLS_CA_FILE)\n    \tPEM file.\n" +
		"  -raw.enabled  (TRIBUTARY_RAW_ENABLED)\n    \tConsume. (default true)\n")
	f, err := ParseHelp(help)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"http.addr", "kafka.tls.ca-file", "raw.enabled"} {
		if !f.Names[n] {
			t.Errorf("flag %s not parsed from the help", n)
		}
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"all known", []string{"TRIBUTARY_HTTP_ADDR", "TRIBUTARY_RAW_ENABLED", "PATH"}, []string{"-http.addr", ":1", "--kafka.tls.ca-file=/ca"}, nil},
		{"unknown variable", []string{"TRIBUTARY_HTTP_ADR"}, nil, []string{"TRIBUTARY_HTTP_ADR"}},
		{"unknown flags", nil, []string{"-http.port", "8081", "--nope=1"}, []string{"--nope=1", "-http.port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.Unknown(tt.env, tt.args); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Unknown = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ParseHelp([]byte("no flags here\n")); err == nil {
		t.Error("ParseHelp of a text without flags: no error")
	}
}

func TestLoadHelpOfEveryService(t *testing.T) {
	all, err := LoadHelp(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Services {
		for _, n := range []string{"http.addr", "nats.url", "log.level", "shutdown.delay"} {
			if !all[s].Names[n] || !all[s].Env[envName(n)] {
				t.Errorf("%s: -%s or %s missing from its help", s, n, envName(n))
			}
		}
	}
	if !all["features"].Names["materializer.instance-id"] {
		t.Error("features has no -materializer.instance-id")
	}
}
