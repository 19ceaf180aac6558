package check

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"golang.org/x/mod/modfile"
)

// The servers of the compose stack and the volume each keeps its data in.
var composeData = map[string]string{
	"kafka":      "/var/lib/kafka/data",
	"nats":       "/data",
	"redis":      "/data",
	"clickhouse": "/var/lib/clickhouse",
}

// loadCompose loads and validates deploy/compose/compose.yaml the way
// docker compose does, with the variables of envFile (none: the defaults).
func loadCompose(t *testing.T, envFile string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	dir := filepath.Join(root, "deploy", "compose")
	var env []string
	if envFile != "" {
		env = readEnvFile(t, filepath.Join(dir, envFile))
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")},
		cli.WithWorkingDirectory(dir), cli.WithEnv(env), cli.WithDiscardEnvFile, cli.WithConsistency(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load compose.yaml: %v", err)
	}
	return p
}

func readEnvFile(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.Contains(line, "=") {
			t.Fatalf("%s: not KEY=value: %q", path, line)
		}
		env = append(env, line)
	}
	return env
}

func TestCompose(t *testing.T) {
	root := repoRoot(t)
	help, err := LoadHelp(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, envFile := range []string{"", ".env.example"} {
		t.Run("env="+envFile, func(t *testing.T) {
			p := loadCompose(t, envFile)
			want := append(slices.Clone(Services), "kafka", "nats", "redis", "clickhouse")
			if got := p.ServiceNames(); !sameSet(got, want) {
				t.Fatalf("services %q, want %q", got, want)
			}
			for name, s := range p.Services {
				t.Run(name, func(t *testing.T) {
					checkComposeService(t, root, p, s, help)
				})
			}
		})
	}
}

func checkComposeService(t *testing.T, root string, p *types.Project, s types.ServiceConfig, help map[string]Flags) {
	hc := s.HealthCheck
	if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
		t.Errorf("no health check: %+v", hc)
	}
	for dep, d := range s.DependsOn {
		if d.Condition != types.ServiceConditionHealthy {
			t.Errorf("depends on %s with condition %q, want %s", dep, d.Condition, types.ServiceConditionHealthy)
		}
	}
	if path, ok := composeData[s.Name]; ok {
		if !hasNamedVolume(p, s, path) {
			t.Errorf("no named volume at %s", path)
		}
		if !strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest") {
			t.Errorf("image %q is not pinned to a tag", s.Image)
		}
		return
	}
	flags, ok := help[s.Name]
	if !ok {
		t.Fatalf("%s is neither a server nor a service", s.Name)
	}
	checkBuild(t, root, s)
	var env []string
	for k := range s.Environment {
		env = append(env, k)
	}
	if bad := flags.Unknown(env, append(s.Entrypoint, s.Command...)); len(bad) > 0 {
		t.Errorf("not flags of %s (see services/%s/README.md): %q", s.Name, s.Name, bad)
	}
	for _, dep := range usesOf(s.Name) {
		if _, ok := s.DependsOn[dep]; !ok {
			t.Errorf("does not wait for %s, which it uses", dep)
		}
	}
	if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
		t.Errorf("read_only %v, cap_drop %q: want a read-only root and every capability dropped", s.ReadOnly, s.CapDrop)
	}
}

// usesOf says which servers a service uses, from its flags: the ones with
// a -<server>.* address flag.
func usesOf(service string) []string {
	return map[string][]string{
		"ingest":   {"kafka", "nats"},
		"features": {"kafka", "nats", "redis", "clickhouse"},
		"trainer":  {"nats"},
		"registry": {"nats"},
		"serving":  {"kafka", "nats", "redis"},
		"monitor":  {"kafka", "nats", "clickhouse"},
	}[service]
}

// checkBuild: the image is built from the service's Dockerfile, with a
// context that holds go.work and the service's module, and the Dockerfile
// copies both.
func checkBuild(t *testing.T, root string, s types.ServiceConfig) {
	t.Helper()
	if s.Build == nil {
		t.Errorf("not built from its Dockerfile")
		return
	}
	ctx := s.Build.Context
	if abs, _ := filepath.Abs(ctx); abs != root {
		t.Errorf("build context %s, want the repository root %s (go.work is there)", ctx, root)
	}
	for _, f := range []string{"go.work", "go.work.sum", filepath.Join("services", s.Name, "go.mod"), filepath.Join("libs", "go.mod")} {
		if _, err := os.Stat(filepath.Join(ctx, f)); err != nil {
			t.Errorf("build context lacks %s: %v", f, err)
		}
	}
	df := s.Build.Dockerfile
	if !filepath.IsAbs(df) {
		df = filepath.Join(ctx, df)
	}
	if want := filepath.Join(root, "services", s.Name, "Dockerfile"); df != want {
		t.Errorf("dockerfile %s, want %s", df, want)
	}
	b, err := os.ReadFile(df)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"COPY go.work", "COPY services/" + s.Name + "/ services/" + s.Name + "/", "./services/" + s.Name + "/cmd/" + s.Name} {
		if !strings.Contains(text, want) {
			t.Errorf("%s has no %q", df, want)
		}
	}
	// go.work names every module, and the go command reads each one's go.mod
	// even to build one binary: the Dockerfile must copy them all.
	for _, m := range workModules(t, root) {
		if !strings.Contains(text, "COPY "+m+"/go.mod ") {
			t.Errorf("%s does not copy %s/go.mod, which go.work uses", df, m)
		}
	}
	// The health check runs wget inside the image.
	if hc := s.HealthCheck; hc != nil && slices.Contains(hc.Test, "wget") && !strings.Contains(text, "/usr/bin/wget") {
		t.Errorf("the health check runs wget, which %s does not put in the image", df)
	}
}

// workModules lists the directories of go.work's use directives.
func workModules(t *testing.T, root string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.ParseWork("go.work", b, nil)
	if err != nil {
		t.Fatalf("parse go.work: %v", err)
	}
	var dirs []string
	for _, u := range f.Use {
		dirs = append(dirs, strings.TrimPrefix(filepath.ToSlash(u.Path), "./"))
	}
	if len(dirs) == 0 {
		t.Fatal("go.work uses no module")
	}
	return dirs
}

func hasNamedVolume(p *types.Project, s types.ServiceConfig, target string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Target == target {
			_, ok := p.Volumes[v.Source]
			return ok
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestComposeFiles checks the files compose.yaml mounts: NATS syncs every
// write, the analyst user is read-only on the tributary database only.
func TestComposeFiles(t *testing.T) {
	p := loadCompose(t, "")
	mounted := map[string]string{}
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				mounted[v.Target] = v.Source
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s mounts %s, which does not exist", s.Name, v.Source)
				}
			}
		}
	}
	read := func(target string) string {
		src, ok := mounted[target]
		if !ok {
			t.Fatalf("nothing is mounted at %s", target)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if nats := read("/etc/nats/nats-server.conf"); !strings.Contains(nats, "sync_interval: always") {
		t.Error("nats-server.conf has no sync_interval: always")
	}
	if cmd := p.Services["nats"].Command; !slices.Equal(cmd, []string{"-c", "/etc/nats/nats-server.conf"}) {
		t.Errorf("nats runs with %q, not the mounted config", cmd)
	}
	analyst := read("/etc/clickhouse-server/users.d/analyst.xml")
	for _, want := range []string{"<readonly>1</readonly>", "<profile>analyst</profile>", "<database>tributary</database>", "<default_database>tributary</default_database>", `from_env="CLICKHOUSE_ANALYST_PASSWORD"`} {
		if !strings.Contains(analyst, want) {
			t.Errorf("analyst.xml has no %s", want)
		}
	}
	if db := p.Services["clickhouse"].Environment["CLICKHOUSE_DB"]; db == nil || *db != "tributary" {
		t.Error("the clickhouse container does not create the analyst's default database tributary (CLICKHOUSE_DB)")
	}
	if _, ok := p.Services["clickhouse"].Environment["CLICKHOUSE_ANALYST_PASSWORD"]; !ok {
		t.Error("the clickhouse container gets no CLICKHOUSE_ANALYST_PASSWORD for analyst.xml")
	}
}
