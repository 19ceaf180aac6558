package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tributary-ml/tributary/libs/httperror"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/service"
)

// modelsUsage lists the models subcommands.
const modelsUsage = `Usage: tributary models <subcommand> [flags] [arguments]

Talks to the registry's HTTP API (-registry.url, TRIBUTARY_REGISTRY_URL).

Subcommands:
  apply FILE...                          check training specs (YAML) and store them (NATS KV tributary_jobs)
  list                                   models with their latest version and aliases
  show <model> [<version>|<alias>]       a model and its aliases, or a version's lineage and metrics
  versions <model>                       a model's versions
  register -metadata <file.json> -artifact <file> [<model>]
                                         register a version: metadata is a RegisterRequest (lineage)
  promote <model> <version>              move production (or -alias) to a version (-weight for canary)
  alias <model> <alias> <version>        point an alias at a version (-weight for canary, -expect-revision)
  delete-alias <model> <alias>           remove an alias (-expect-revision); recorded in the audit trail
  rollback <model>                       move production back to its previous version
  archive <model> <version>              archive a version
  audit <model>                          the alias moves of a model
  download <model> <version>|<alias>     download an artifact, verified by sha256 (-out)

Common flags: -registry.url, -o table|json, -timeout; promote, alias,
delete-alias, rollback and archive take -actor (default: the user name) and
-reason. A move is recorded in the audit trail; serving follows it within a
second.
The metadata file is decoded strictly: an unknown field is an error.`

// modelsOptions are the flags shared by the models subcommands.
type modelsOptions struct {
	url     string
	output  string
	timeout time.Duration
	actor   string
	reason  string
	alias   string // promote
	// alias, delete-alias: set only when given on the command line
	weight         *float64
	expectRevision *uint64
	// register
	metadata string
	artifact string
	// download
	out string
}

func defaultActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "cli"
}

// parseModelsFlags parses flags and positional arguments in any order.
func parseModelsFlags(sub string, args []string, lookupEnv func(string) (string, bool), output io.Writer) (modelsOptions, []string, error) {
	var o modelsOptions
	fs := flag.NewFlagSet("models "+sub, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintln(output, modelsUsage)
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.url, "registry.url", "http://127.0.0.1:8084", "Base URL of the registry's HTTP API.")
	fs.StringVar(&o.output, "o", "table", "Output: table or json.")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "Give up after this long (uploads and downloads: 10 times this).")
	fs.StringVar(&o.actor, "actor", "", "Who makes the change, for the audit trail (default: your user name).")
	fs.StringVar(&o.alias, "alias", model.AliasProduction, "promote: the alias to move (production, canary with -weight, shadow, ...).")
	fs.StringVar(&o.reason, "reason", "", "Why, for the audit trail.")
	var weight float64
	var expectRevision uint64
	fs.Float64Var(&weight, "weight", 0, "Traffic weight of the canary alias, 0 to 1 (required for canary).")
	fs.Uint64Var(&expectRevision, "expect-revision", 0, "Move or delete the alias only if it is at this revision (0: move only if it does not exist).")
	fs.StringVar(&o.metadata, "metadata", "", "register: JSON file with the registration (format, lineage; model and artifact may be omitted).")
	fs.StringVar(&o.artifact, "artifact", "", "register: the artifact file.")
	fs.StringVar(&o.out, "out", "", "download: file to write (default <model>-v<version>.<format>; - for stdout).")
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return o, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if err := service.ParseFlags(fs, nil, lookupEnv); err != nil {
		return o, nil, err
	}
	// Whatever value they have, these are sent only when given: the
	// registry, not a sentinel here, judges -weight -0.5.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "weight":
			o.weight = &weight
		case "expect-revision":
			o.expectRevision = &expectRevision
		}
	})
	if o.actor == "" {
		o.actor = defaultActor()
	}
	if o.output != "table" && o.output != "json" {
		return o, nil, fmt.Errorf("-o %q: want table or json", o.output)
	}
	if _, err := url.ParseRequestURI(o.url); err != nil || !strings.HasPrefix(o.url, "http") {
		return o, nil, fmt.Errorf("-registry.url %q: want an http(s) URL", o.url)
	}
	o.url = strings.TrimRight(o.url, "/")
	if o.timeout <= 0 {
		return o, nil, errors.New("-timeout: must be positive")
	}
	return o, positional, nil
}

// runModels is the models command.
func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return models(ctx, args, os.LookupEnv, http.DefaultClient, stdout, stderr)
}

func models(ctx context.Context, args []string, lookupEnv func(string) (string, bool), hc *http.Client, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, modelsUsage)
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return flag.ErrHelp
	}
	sub := args[0]
	if sub == "apply" {
		return runModelsApply(ctx, args[1:], lookupEnv, stdout, stderr)
	}
	o, pos, err := parseModelsFlags(sub, args[1:], lookupEnv, stderr)
	if err != nil {
		return err
	}
	want := map[string][2]int{ // min and max positional arguments
		"list": {0, 0}, "show": {1, 2}, "versions": {1, 1}, "register": {0, 1}, "alias": {3, 3}, "delete-alias": {2, 2},
		"rollback": {1, 1}, "archive": {2, 2}, "audit": {1, 1}, "download": {2, 2}, "promote": {2, 2},
	}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("unknown subcommand %q (run 'tributary models help')", sub)
	}
	if len(pos) < n[0] || len(pos) > n[1] {
		return fmt.Errorf("%s: %d arguments, want %d to %d (run 'tributary models help')", sub, len(pos), n[0], n[1])
	}
	timeout := o.timeout
	if sub == "register" || sub == "download" {
		timeout *= 10
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &registryHTTP{base: o.url, hc: hc}
	esc := url.PathEscape
	switch sub {
	case "list":
		var ms []model.ModelInfo
		if err := c.call(ctx, "GET", "/v1/models", nil, &ms); err != nil {
			return err
		}
		return render(stdout, o.output, ms, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "MODEL\tLATEST\tALIASES\tCREATED")
			for _, m := range ms {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", m.Name, m.LatestVersion, aliasList(m.Aliases), m.CreatedAt.Format(time.RFC3339))
			}
		})
	case "show":
		if len(pos) == 2 {
			var v model.Version
			if err := c.call(ctx, "GET", "/v1/models/"+esc(pos[0])+"/versions/"+esc(pos[1]), nil, &v); err != nil {
				return err
			}
			return render(stdout, o.output, v, func(w *tabwriter.Writer) { showVersion(w, v) })
		}
		var m model.ModelInfo
		if err := c.call(ctx, "GET", "/v1/models/"+esc(pos[0]), nil, &m); err != nil {
			return err
		}
		return render(stdout, o.output, m, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "Model:\t%s\nLatest version:\t%d\nCreated:\t%s\n\n", m.Name, m.LatestVersion, m.CreatedAt.Format(time.RFC3339))
			fmt.Fprintln(w, "ALIAS\tVERSION\tWEIGHT\tMOVED\tBY\tREVISION\tREASON")
			for _, a := range m.Aliases {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%d\t%s\n", a.Name, a.Version, weight(a.Weight), a.MovedAt.Format(time.RFC3339), a.Actor, a.Revision, a.Reason)
			}
		})
	case "versions":
		var vs []model.Version
		if err := c.call(ctx, "GET", "/v1/models/"+esc(pos[0])+"/versions", nil, &vs); err != nil {
			return err
		}
		return render(stdout, o.output, vs, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "VERSION\tSTATUS\tFORMAT\tSIZE\tSHA256\tTRIGGER\tREGISTERED\tMETRICS")
			for _, v := range vs {
				fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", v.Version, v.Status, v.Format, v.Artifact.Size, short(v.Artifact.SHA256),
					v.Lineage.Trigger, v.RegisteredAt.Format(time.RFC3339), metricList(v.Lineage.Metrics))
			}
		})
	case "register":
		v, err := register(ctx, c, o, pos)
		if err != nil {
			return err
		}
		return render(stdout, o.output, v, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "registered %s version %d (sha256 %s, %d bytes)\n", v.Model, v.Version, v.Artifact.SHA256, v.Artifact.Size)
		})
	case "alias", "promote":
		if sub == "promote" {
			pos = []string{pos[0], o.alias, pos[1]}
		}
		version, err := strconv.Atoi(pos[2])
		if err != nil || version < 1 {
			return fmt.Errorf("alias: version %q: want a version number", pos[2])
		}
		body := map[string]any{"version": version, "actor": o.actor, "reason": o.reason}
		if o.weight != nil {
			body["weight"] = *o.weight
		}
		if o.expectRevision != nil {
			body["expected_revision"] = *o.expectRevision
		}
		var e model.AuditEntry
		if err := c.call(ctx, "PUT", "/v1/models/"+esc(pos[0])+"/aliases/"+esc(pos[1]), body, &e); err != nil {
			return err
		}
		return render(stdout, o.output, e, func(w *tabwriter.Writer) { showMove(w, e) })
	case "delete-alias":
		if o.weight != nil {
			return errors.New("delete-alias: -weight does not apply")
		}
		body := map[string]any{"actor": o.actor, "reason": o.reason}
		if o.expectRevision != nil {
			body["expected_revision"] = *o.expectRevision
		}
		var e model.AuditEntry
		if err := c.call(ctx, "DELETE", "/v1/models/"+esc(pos[0])+"/aliases/"+esc(pos[1]), body, &e); err != nil {
			return err
		}
		return render(stdout, o.output, e, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "deleted %s of %s (was version %d), revision %d\n", e.Alias, e.Model, e.FromVersion, e.Revision)
		})
	case "rollback":
		var e model.AuditEntry
		if err := c.call(ctx, "POST", "/v1/models/"+esc(pos[0])+"/rollback", map[string]any{"actor": o.actor, "reason": o.reason}, &e); err != nil {
			return err
		}
		return render(stdout, o.output, e, func(w *tabwriter.Writer) { showMove(w, e) })
	case "archive":
		var v model.Version
		if err := c.call(ctx, "POST", "/v1/models/"+esc(pos[0])+"/versions/"+esc(pos[1])+"/archive", map[string]any{"actor": o.actor, "reason": o.reason}, &v); err != nil {
			return err
		}
		return render(stdout, o.output, v, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "archived %s version %d\n", v.Model, v.Version)
		})
	case "audit":
		var es []model.AuditEntry
		if err := c.call(ctx, "GET", "/v1/models/"+esc(pos[0])+"/audit", nil, &es); err != nil {
			return err
		}
		return render(stdout, o.output, es, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "AT\tALIAS\tFROM\tTO\tWEIGHT\tBY\tROLLBACK\tREASON")
			for _, e := range es {
				to := strconv.Itoa(e.ToVersion)
				if e.Deleted {
					to = "deleted"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", e.At.Format(time.RFC3339), e.Alias, fromVersion(e.FromVersion), to, weight(e.Weight), e.Actor, e.Rollback, e.Reason)
			}
		})
	case "download":
		res, err := download(ctx, c, o, pos[0], pos[1], stdout)
		if err != nil {
			return err
		}
		if o.out == "-" {
			return nil
		}
		return render(stdout, o.output, res, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "wrote %s (%d bytes, sha256 %s verified)\n", res.Path, res.Size, res.SHA256)
		})
	}
	return nil
}

// registryHTTP calls the registry's REST API.
type registryHTTP struct {
	base string
	hc   *http.Client
}

// call sends body as JSON (when not nil) and decodes a 2xx answer into out;
// an error answer becomes its *httperror.Error.
func (c *registryHTTP) call(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.do(req, out)
}

func (c *registryHTTP) do(req *http.Request, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return errorOf(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("registry: decode answer: %w", err)
	}
	return nil
}

// errorOf is the error of an answer that is not the expected success: for
// an error answer (the libs/httperror envelope) its status, reason and
// message.
func errorOf(resp *http.Response) error {
	if err := httperror.Check(resp); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return fmt.Errorf("registry: unexpected answer %s", resp.Status)
}

// register uploads the artifact file and the metadata as a multipart body,
// streamed from the file.
func register(ctx context.Context, c *registryHTTP, o modelsOptions, pos []string) (model.Version, error) {
	if o.metadata == "" || o.artifact == "" {
		return model.Version{}, errors.New("register: -metadata and -artifact are required")
	}
	raw, err := os.ReadFile(o.metadata)
	if err != nil {
		return model.Version{}, fmt.Errorf("register: %w", err)
	}
	var meta model.RegisterRequest
	// Strict, as the registry's API: a misspelt field would otherwise be
	// dropped here and register a version without it.
	if err := model.UnmarshalStrict(raw, &meta); err != nil {
		return model.Version{}, fmt.Errorf("register: metadata %s: %w", o.metadata, err)
	}
	if len(pos) == 1 {
		meta.Model = pos[0]
	}
	if meta.Model == "" {
		return model.Version{}, errors.New("register: no model name (argument or \"model\" in the metadata)")
	}
	if meta.Actor == "" {
		meta.Actor = o.actor
	}
	f, err := os.Open(o.artifact)
	if err != nil {
		return model.Version{}, fmt.Errorf("register: %w", err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(func() error {
			mp, err := mw.CreateFormField("metadata")
			if err != nil {
				return err
			}
			if err := json.NewEncoder(mp).Encode(meta); err != nil {
				return err
			}
			ap, err := mw.CreateFormFile("artifact", filepath.Base(o.artifact))
			if err != nil {
				return err
			}
			if _, err := io.Copy(ap, f); err != nil {
				return err
			}
			return mw.Close()
		}())
	}()
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/v1/models/"+url.PathEscape(meta.Model)+"/versions", pr)
	if err != nil {
		return model.Version{}, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var v model.Version
	err = c.do(req, &v)
	_ = pr.Close() // stops the writer if the request ended early
	return v, err
}

// downloaded is the result of a download.
type downloaded struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// download streams an artifact into a temporary file beside the target,
// checks its sha256 against the registry's header, then renames it.
func download(ctx context.Context, c *registryHTTP, o modelsOptions, name, ref string, stdout io.Writer) (downloaded, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/models/"+url.PathEscape(name)+"/versions/"+url.PathEscape(ref)+"/artifact", nil)
	if err != nil {
		return downloaded{}, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return downloaded{}, fmt.Errorf("registry: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return downloaded{}, errorOf(resp)
	}
	want := resp.Header.Get("X-Tributary-Artifact-SHA256")
	path := o.out
	if path == "" {
		path = name + "-v" + resp.Header.Get("X-Tributary-Model-Version") + ".bin"
		if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
			path = filepath.Base(params["filename"])
		}
	}
	h := sha256.New()
	if path == "-" {
		n, err := io.Copy(io.MultiWriter(stdout, h), resp.Body)
		if err != nil {
			return downloaded{}, fmt.Errorf("download: %w", err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return downloaded{}, fmt.Errorf("download: sha256 %s, the registry says %s", got, want)
		}
		return downloaded{Path: "-", Size: n, SHA256: want}, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tributary-download-*")
	if err != nil {
		return downloaded{}, fmt.Errorf("download: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	n, err := io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return downloaded{}, fmt.Errorf("download: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return downloaded{}, fmt.Errorf("download: sha256 %s, the registry says %s: not written", got, want)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return downloaded{}, fmt.Errorf("download: %w", err)
	}
	return downloaded{Path: path, Size: n, SHA256: want}, nil
}

func render(stdout io.Writer, output string, v any, table func(*tabwriter.Writer)) error {
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	table(w)
	return w.Flush()
}

func showVersion(w *tabwriter.Writer, v model.Version) {
	l := v.Lineage
	fmt.Fprintf(w, "Model:\t%s\nVersion:\t%d\nStatus:\t%s\nFormat:\t%s\n", v.Model, v.Version, v.Status, v.Format)
	fmt.Fprintf(w, "Artifact:\tsha256 %s, %d bytes\n", v.Artifact.SHA256, v.Artifact.Size)
	fmt.Fprintf(w, "Registered:\t%s by %s\n", v.RegisteredAt.Format(time.RFC3339), v.RegisteredBy)
	if v.Archival != nil {
		fmt.Fprintf(w, "Archived:\t%s by %s %s\n", v.Archival.At.Format(time.RFC3339), v.Archival.Actor, v.Archival.Reason)
	}
	fmt.Fprintf(w, "Training set:\t%s (sha256 %s)\n", l.TrainingSetID, l.TrainingSetSHA256)
	fmt.Fprintf(w, "Trainer:\t%s at %s\nTrigger:\t%s\n", l.Trainer, l.CodeVersion, l.Trigger)
	if l.JobID != "" {
		fmt.Fprintf(w, "Job:\t%s\n", l.JobID)
	}
	for _, view := range slices.Sorted(maps.Keys(l.FeatureDefinitions)) {
		fmt.Fprintf(w, "Feature view:\t%s at %s\n", view, l.FeatureDefinitions[view])
	}
	for _, k := range slices.Sorted(maps.Keys(l.Params)) {
		fmt.Fprintf(w, "Param:\t%s = %s\n", k, l.Params[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "METRIC\tVALUE")
	for _, k := range slices.Sorted(maps.Keys(l.Metrics)) {
		fmt.Fprintf(w, "%s\t%g\n", k, l.Metrics[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "#\tFEATURE\tREFERENCE")
	for i, f := range l.Features {
		fmt.Fprintf(w, "%d\t%s\t%s\n", i+1, f, distSummary(l.Reference.Features[f]))
	}
	fmt.Fprintf(w, "-\tprediction\t%s\n", distSummary(l.Reference.Prediction))
}

func distSummary(d model.Distribution) string {
	switch d.Kind {
	case model.KindNumeric:
		return fmt.Sprintf("numeric n=%d missing=%d bins=%d mean=%.4g sd=%.4g [%.4g, %.4g]", d.Count, d.Missing, len(d.Counts), d.Mean, d.StdDev, d.Min, d.Max)
	case model.KindCategorical:
		return fmt.Sprintf("categorical n=%d categories=%d other=%d", d.Count, len(d.Categories), d.Other)
	}
	return "none"
}

func showMove(w *tabwriter.Writer, e model.AuditEntry) {
	verb := "moved"
	if e.Rollback {
		verb = "rolled back"
	}
	fmt.Fprintf(w, "%s %s of %s: %s -> %d", verb, e.Alias, e.Model, fromVersion(e.FromVersion), e.ToVersion)
	if e.Weight != nil {
		fmt.Fprintf(w, " (weight %g)", *e.Weight)
	}
	fmt.Fprintf(w, ", revision %d\n", e.Revision)
}

func fromVersion(v int) string {
	if v == 0 {
		return "-"
	}
	return strconv.Itoa(v)
}

func weight(w *float64) string {
	if w == nil {
		return "-"
	}
	return strconv.FormatFloat(*w, 'g', -1, 64)
}

func aliasList(as []model.Alias) string {
	if len(as) == 0 {
		return "-"
	}
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("%s=%d", a.Name, a.Version)
	}
	return strings.Join(parts, ",")
}

func metricList(m map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%.4g", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
