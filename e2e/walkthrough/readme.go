// Package walkthrough runs the walkthrough of the top-level README.md, as
// written, against the six real services: the README cannot drift from
// what the platform does.
package walkthrough

import (
	"bufio"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Markers of the section of README.md the test runs.
const (
	startMarker = "<!-- walkthrough"
	endMarker   = "<!-- /walkthrough -->"
)

// block is one sh code block of the walkthrough.
type block struct {
	Line   int    // of the opening fence, 1-based
	Script string // the commands, as written
	// From the "<!-- test: ... -->" comment right above the block:
	Retry  time.Duration // run again until it passes, for this long
	Expect string        // a regexp the output must match
}

var (
	testComment = regexp.MustCompile(`^<!-- test:(.*)-->$`)
	retryOpt    = regexp.MustCompile(`\bretry=(\S+)`)
	expectOpt   = regexp.MustCompile(`\bexpect="((?:[^"\\]|\\.)*)"`)
)

// parseWalkthrough returns the sh blocks between the markers, in order.
// A "<!-- test: retry=60s expect="regexp" -->" comment applies to the
// block that follows it (blank lines between are allowed).
func parseWalkthrough(readme string) ([]block, error) {
	var blocks []block
	var pending *block
	in, inCode := false, false
	var code strings.Builder
	var cur block
	sc := bufio.NewScanner(strings.NewReader(readme))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case !in:
			if strings.HasPrefix(trimmed, startMarker) && !strings.HasPrefix(trimmed, endMarker) {
				in = true
			}
		case inCode:
			if trimmed == "```" {
				cur.Script = code.String()
				blocks = append(blocks, cur)
				inCode = false
				continue
			}
			code.WriteString(line + "\n")
		case trimmed == endMarker:
			if len(blocks) == 0 {
				return nil, fmt.Errorf("line %d: the walkthrough has no sh block", n)
			}
			return blocks, nil
		case strings.HasPrefix(trimmed, "```"):
			if trimmed != "```sh" {
				return nil, fmt.Errorf("line %d: the walkthrough's code blocks are sh blocks, not %q", n, trimmed)
			}
			cur = block{Line: n}
			if pending != nil {
				cur.Retry, cur.Expect = pending.Retry, pending.Expect
				pending = nil
			}
			code.Reset()
			inCode = true
		case testComment.MatchString(trimmed):
			opts := testComment.FindStringSubmatch(trimmed)[1]
			pending = &block{}
			if m := retryOpt.FindStringSubmatch(opts); m != nil {
				d, err := time.ParseDuration(m[1])
				if err != nil {
					return nil, fmt.Errorf("line %d: retry=%s: %w", n, m[1], err)
				}
				pending.Retry = d
			}
			if m := expectOpt.FindStringSubmatch(opts); m != nil {
				pending.Expect = strings.ReplaceAll(m[1], `\"`, `"`)
				if _, err := regexp.Compile(pending.Expect); err != nil {
					return nil, fmt.Errorf("line %d: expect: %w", n, err)
				}
			}
		case trimmed != "" && pending != nil && !strings.HasPrefix(trimmed, "<!--"):
			return nil, fmt.Errorf("line %d: a test comment must be right above its sh block", n)
		}
	}
	if !in {
		return nil, fmt.Errorf("no %q marker", startMarker)
	}
	return nil, fmt.Errorf("no %q marker after the walkthrough", endMarker)
}

// localAddress matches the services' addresses on one machine as the
// README writes them.
var localAddress = regexp.MustCompile(`\blocalhost:(808[1-6])\b`)

// withAddresses points the README's localhost:808N addresses at the
// services under test (ports are free ones there); nothing else changes.
func withAddresses(script string, hostPort map[string]string) string {
	return localAddress.ReplaceAllStringFunc(script, func(s string) string {
		if hp, ok := hostPort[strings.TrimPrefix(s, "localhost:")]; ok {
			return hp
		}
		return s
	})
}

// The names the walkthrough gives its stream, view, label stream and model,
// and the stream's event type.
var (
	walkthroughNames = regexp.MustCompile(`\b(payments|spending|chargebacks|chargeback)\b`)
	walkthroughType  = "com.example.payment.v1"
)

// withNames gives the walkthrough's names the suffix, so that a run does
// not see the data of an earlier one on the shared servers (feature windows,
// labels, model versions); nothing else changes.
func withNames(s, suffix string) string {
	s = strings.ReplaceAll(s, walkthroughType, "com.example.payment"+suffix+".v1")
	return walkthroughNames.ReplaceAllString(s, "${1}"+suffix)
}
