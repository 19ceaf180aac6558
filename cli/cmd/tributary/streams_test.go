package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const streamDef = `{"name":"orders","type":"com.example.order.v1","entity_key":"/customer","schema":{"type":"object","required":["customer"]}}`

func TestStreamsCommand(t *testing.T) {
	ctx := context.Background()
	srv := runNATS(t, true)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "tributary_schemas"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "orders.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(streamDef), 0o600)
	os.WriteFile(bad, []byte(`{"name":"Bad Name","type":"t","entity_key":"/k","schema":{}}`), 0o600)

	runCmd := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"streams", "-nats.url", srv.ClientURL()}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	// An invalid file among valid ones: nothing is applied.
	if code, _, stderr := runCmd("apply", good, bad); code != 1 || !strings.Contains(stderr, "bad.json") || !strings.Contains(stderr, "name:") {
		t.Fatalf("apply with a bad file: code %d, stderr %s", code, stderr)
	}
	if _, err := kv.Get(ctx, "orders"); err == nil {
		t.Fatal("a stream was applied although another file was invalid")
	}
	code, stdout, stderr := runCmd("apply", good)
	if code != 0 || !strings.Contains(stdout, "stream orders applied (type com.example.order.v1, topic tributary.events.orders") {
		t.Fatalf("apply: code %d, %s %s", code, stdout, stderr)
	}
	e, err := kv.Get(ctx, "orders")
	if err != nil || string(e.Value()) != streamDef {
		t.Fatalf("bucket holds %v, %v", e, err)
	}
	// Another stream with the type of orders is refused before writing.
	thief := filepath.Join(dir, "thief.json")
	os.WriteFile(thief, []byte(strings.Replace(streamDef, `"orders"`, `"thief"`, 1)), 0o600)
	if code, _, stderr := runCmd("apply", thief); code != 1 || !strings.Contains(stderr, "already the type of stream orders") {
		t.Fatalf("apply of a type clash: code %d, %s", code, stderr)
	}
	if _, err := kv.Get(ctx, "thief"); err == nil {
		t.Fatal("a clashing stream was written")
	}
	// Applying orders again (a change) is fine.
	if code, _, stderr := runCmd("apply", good); code != 0 {
		t.Fatalf("re-apply: %d %s", code, stderr)
	}
	// A value put by other means that does not parse is listed as invalid.
	kv.Put(ctx, "junk", []byte("{"))
	code, stdout, _ = runCmd("list")
	if code != 0 || !regexpLine(stdout, `orders\s+com.example.order.v1\s+tributary.events.orders\s+2\s+ok`) || !strings.Contains(stdout, "junk") || !strings.Contains(stdout, "invalid") {
		t.Fatalf("list: code %d:\n%s", code, stdout)
	}
	code, stdout, _ = runCmd("list", "-o", "json")
	var rows []streamRow
	if err := json.Unmarshal([]byte(stdout), &rows); code != 0 || err != nil || len(rows) != 2 ||
		rows[0] != (streamRow{Name: "junk", Revision: rows[0].Revision, Error: rows[0].Error}) || rows[0].Error == "" ||
		rows[1] != (streamRow{Name: "orders", Type: "com.example.order.v1", Topic: "tributary.events.orders", Revision: 2}) {
		t.Fatalf("list -o json: code %d %v:\n%s", code, err, stdout)
	}
	if code, stdout, _ := runCmd("delete", "orders"); code != 0 || !strings.Contains(stdout, "deleted") {
		t.Fatalf("delete: %d %s", code, stdout)
	}
	if code, _, stderr := runCmd("delete", "orders"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Fatalf("delete of a missing stream: %d %s", code, stderr)
	}
	for _, args := range [][]string{{}, {"apply"}, {"list", "x"}, {"frob"}} {
		if code, _, _ := runCmd(args...); code != 1 {
			t.Errorf("streams %v: code %d, want 1", args, code)
		}
	}
}

func regexpLine(out, pattern string) bool {
	for _, line := range strings.Split(out, "\n") {
		if ok, _ := regexp.MatchString(pattern, line); ok {
			return true
		}
	}
	return false
}
