package check

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Services are the six services, each built from services/<name>.
var Services = []string{"ingest", "features", "trainer", "registry", "serving", "monitor"}

// Flags is what one service accepts: its flag names and the TRIBUTARY_*
// variables that set them.
type Flags struct {
	Names map[string]bool // "kafka.brokers"
	Env   map[string]bool // "TRIBUTARY_KAFKA_BROKERS"
}

// helpFlag matches a flag line of Go's flag.PrintDefaults as the services
// print it: "  -kafka.brokers string  (TRIBUTARY_KAFKA_BROKERS)".
var helpFlag = regexp.MustCompile(`^\s+-([A-Za-z0-9][A-Za-z0-9._-]*)(?:\s.*?)?(?:\((TRIBUTARY_[A-Z0-9_]+)\))?\s*$`)

// ParseHelp reads the flags out of a service's -h output.
func ParseHelp(help []byte) (Flags, error) {
	f := Flags{Names: map[string]bool{}, Env: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(help))
	for sc.Scan() {
		m := helpFlag.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f.Names[m[1]] = true
		if m[2] != "" {
			f.Env[m[2]] = true
		}
	}
	if err := sc.Err(); err != nil {
		return Flags{}, fmt.Errorf("read help: %w", err)
	}
	if len(f.Names) == 0 {
		return Flags{}, fmt.Errorf("no flags found in the help output")
	}
	return f, nil
}

// LoadHelp reads the flags of every service from
// services/<name>/cmd/<name>/testdata/help.txt: the golden file that each
// service's TestHelp keeps equal to its real -h output, so that these checks
// need no build of six binaries.
func LoadHelp(root string) (map[string]Flags, error) {
	all := map[string]Flags{}
	for _, s := range Services {
		path := filepath.Join(root, "services", s, "cmd", s, "testdata", "help.txt")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read the -h of %s: %w", s, err)
		}
		f, err := ParseHelp(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		all[s] = f
	}
	return all, nil
}

// argFlag matches -name or --name, with or without =value.
var argFlag = regexp.MustCompile(`^--?([A-Za-z0-9][A-Za-z0-9._-]*)(?:=.*)?$`)

// Unknown returns, sorted, what in env (variable names) and args (command
// line words) the service does not accept: variables starting TRIBUTARY_
// that set no flag, and -flag words that name none.
func (f Flags) Unknown(env []string, args []string) []string {
	var bad []string
	for _, e := range env {
		if strings.HasPrefix(e, "TRIBUTARY_") && !f.Env[e] {
			bad = append(bad, e)
		}
	}
	for _, a := range args {
		m := argFlag.FindStringSubmatch(a)
		if m != nil && !f.Names[m[1]] {
			bad = append(bad, a)
		}
	}
	sort.Strings(bad)
	return bad
}
