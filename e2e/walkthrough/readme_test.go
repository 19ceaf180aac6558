package walkthrough

import (
	"strings"
	"testing"
	"time"
)

func TestParseWalkthrough(t *testing.T) {
	const good = "intro\n```sh\nnot run\n```\n<!-- walkthrough: runs -->\ntext\n```sh\necho one\n```\n\n" +
		"<!-- test: retry=30s expect=\"a \\\"b\\\" +c\" -->\n\n```sh\necho two\necho three\n```\n<!-- /walkthrough -->\n```sh\nnot run either\n```\n"
	blocks, err := parseWalkthrough(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks[0].Script != "echo one\n" || blocks[0].Retry != 0 || blocks[0].Expect != "" || blocks[0].Line != 7 {
		t.Fatalf("blocks %+v", blocks)
	}
	b := blocks[1]
	if b.Script != "echo two\necho three\n" || b.Retry != 30*time.Second || b.Expect != `a "b" +c` {
		t.Errorf("block 2 %+v", b)
	}
	for _, tc := range []struct{ name, readme, want string }{
		{"no start", "```sh\nx\n```\n", "no \"<!-- walkthrough\" marker"},
		{"no end", "<!-- walkthrough -->\n```sh\nx\n```\n", "no \"<!-- /walkthrough -->\" marker"},
		{"empty", "<!-- walkthrough -->\n<!-- /walkthrough -->\n", "has no sh block"},
		{"not sh", "<!-- walkthrough -->\n```go\nx\n```\n<!-- /walkthrough -->\n", "sh blocks, not \"```go\""},
		{"comment astray", "<!-- walkthrough -->\n<!-- test: retry=1s -->\ntext\n```sh\nx\n```\n<!-- /walkthrough -->\n", "right above its sh block"},
		{"bad retry", "<!-- walkthrough -->\n<!-- test: retry=soon -->\n```sh\nx\n```\n<!-- /walkthrough -->\n", "retry=soon"},
		{"bad expect", "<!-- walkthrough -->\n<!-- test: expect=\"(\" -->\n```sh\nx\n```\n<!-- /walkthrough -->\n", "expect:"},
	} {
		if _, err := parseWalkthrough(tc.readme); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestWithAddresses(t *testing.T) {
	got := withAddresses("curl localhost:8081/v1/events localhost:8085/v1/predict/m localhost:80810 localhost:9000",
		map[string]string{"8081": "127.0.0.1:4001", "8085": "127.0.0.1:4005"})
	if want := "curl 127.0.0.1:4001/v1/events 127.0.0.1:4005/v1/predict/m localhost:80810 localhost:9000"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestWithNames(t *testing.T) {
	got := withNames(`bin/tributary streams apply walkthrough/payments.json; "type": "com.example.payment.v1"; stream: payments; spending:count_1h; labels: chargebacks; model: chargeback; chargebacks.parquet; payments_1h`, "_x1")
	want := `bin/tributary streams apply walkthrough/payments_x1.json; "type": "com.example.payment_x1.v1"; stream: payments_x1; spending_x1:count_1h; labels: chargebacks_x1; model: chargeback_x1; chargebacks_x1.parquet; payments_1h`
	if got != want {
		t.Errorf("%s\nwant %s", got, want)
	}
}
