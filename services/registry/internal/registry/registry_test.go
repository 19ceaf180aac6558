package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/libs/natsx"
	"github.com/tributary-ml/tributary/services/registry/internal/registry"
	"github.com/tributary-ml/tributary/services/registry/internal/registrytest"
	"github.com/tributary-ml/tributary/services/registry/internal/store"
)

// fixture is a registry on the real nats-server, isolated by a prefix.
type fixture struct {
	js     jetstream.JetStream
	prefix string
	reg    *registry.Registry
	st     *store.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	_, js := registrytest.Connect(t, registrytest.RealNATSURL(t))
	prefix := registrytest.Isolated(t, js)
	reg, st := registrytest.NewRegistry(t, js, prefix)
	return &fixture{js: js, prefix: prefix, reg: reg, st: st}
}

func ptr[T any](v T) *T { return &v }

// Registrations from several registry replicas (each with its own NATS
// connection) at once get distinct, consecutive version numbers.
func TestConcurrentRegistrations(t *testing.T) {
	f := newFixture(t)
	name := registrytest.ModelName(t)
	a := registrytest.PutBytes(t, f.st, []byte("shared artifact"))
	const replicas, perReplica = 4, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []int
	for r := 0; r < replicas; r++ {
		_, js := registrytest.Connect(t, registrytest.RealNATSURL(t))
		reg, _ := registrytest.NewRegistry(t, js, f.prefix)
		for i := 0; i < perReplica; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := reg.Register(context.Background(), registrytest.Request(name, a, ""))
				if err != nil {
					t.Errorf("register: %v", err)
					return
				}
				mu.Lock()
				got = append(got, v.Version)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	slices.Sort(got)
	want := make([]int, replicas*perReplica)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(got, want) {
		t.Fatalf("versions handed out %v, want 1..%d without duplicates or gaps", got, len(want))
	}
	vs, err := f.reg.Versions(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(want) || vs[0].Version != 1 || vs[len(vs)-1].Version != len(want) {
		t.Fatalf("stored %d versions, want %d", len(vs), len(want))
	}
	m, err := f.reg.Model(context.Background(), name)
	if err != nil || m.LatestVersion != len(want) {
		t.Fatalf("model: latest %d, err %v; want %d", m.LatestVersion, err, len(want))
	}
}

// Of concurrent conditional moves of one alias, exactly one wins; the others
// get ErrConflict, and the audit trail records only the winner.
func TestConcurrentAliasMoves(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := registrytest.ModelName(t)
	for i := 1; i <= 3; i++ {
		registrytest.Register(t, f.reg, f.st, name, fmt.Sprintf("artifact %d", i))
	}
	first, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: 1, Actor: "alice", Reason: "first"})
	if err != nil {
		t.Fatal(err)
	}
	const movers = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wins, conflicts int
	for i := 0; i < movers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{
				Model: name, Alias: "production", Version: 2 + i%2, Actor: fmt.Sprintf("mover-%d", i),
				ExpectedRevision: ptr(first.Revision),
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, model.ErrConflict):
				conflicts++
			default:
				t.Errorf("move: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || conflicts != movers-1 {
		t.Fatalf("%d wins and %d conflicts, want 1 and %d", wins, conflicts, movers-1)
	}
	audit, err := f.reg.Audit(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 2 || audit[0].ToVersion != 1 || audit[1].FromVersion != 1 || !strings.HasPrefix(audit[1].Actor, "mover-") {
		t.Fatalf("audit trail %+v, want the first move and one winner", audit)
	}
	// Overlapping unconditional moves are atomic too: the alias ends at
	// one of the targets and the audit trail has one entry per success.
	var ok int
	for i := 0; i < movers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "shadow", Version: 1 + i%3, Actor: "x"})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if !errors.Is(err, model.ErrConflict) {
				t.Errorf("move: %v", err)
			}
		}()
	}
	wg.Wait()
	audit, err = f.reg.Audit(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var shadowMoves int
	for _, e := range audit {
		if e.Alias == "shadow" {
			shadowMoves++
		}
	}
	if ok < 1 || shadowMoves != ok {
		t.Fatalf("%d unconditional moves succeeded, the audit trail has %d", ok, shadowMoves)
	}
}

func TestAliasesRollbackArchive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := registrytest.ModelName(t)
	for i := 1; i <= 4; i++ {
		registrytest.Register(t, f.reg, f.st, name, fmt.Sprintf("artifact %d", i))
	}
	move := func(alias string, v int, weight *float64) model.AuditEntry {
		t.Helper()
		e, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: alias, Version: v, Weight: weight, Actor: "alice", Reason: "test"})
		if err != nil {
			t.Fatalf("move %s to %d: %v", alias, v, err)
		}
		return e
	}
	if _, err := f.reg.Rollback(ctx, model.RollbackRequest{Model: name, Actor: "bob"}); !errors.Is(err, model.ErrNoRollbackTarget) {
		t.Fatalf("rollback without production: %v, want ErrNoRollbackTarget", err)
	}
	move("production", 1, nil)
	move("production", 2, nil)
	move("production", 3, nil)
	move("production", 4, nil)
	move("canary", 4, ptr(0.25))
	move("my-ab-test", 1, nil)

	// Archiving a version an alias points at is refused.
	if _, err := f.reg.Archive(ctx, model.ArchiveRequest{Model: name, Version: 4, Actor: "bob"}); !errors.Is(err, model.ErrVersionAliased) {
		t.Fatalf("archive of an aliased version: %v, want ErrVersionAliased", err)
	}
	// Version 3 is archived: rollback from 4 skips it.
	v3, err := f.reg.Archive(ctx, model.ArchiveRequest{Model: name, Version: 3, Actor: "bob", Reason: "bad"})
	if err != nil || v3.Status != model.StatusArchived || v3.Archival == nil || v3.Archival.Actor != "bob" {
		t.Fatalf("archive: %+v, %v", v3, err)
	}
	if again, err := f.reg.Archive(ctx, model.ArchiveRequest{Model: name, Version: 3, Actor: "bob"}); err != nil || again.Archival.Reason != "bad" {
		t.Fatalf("archive again: %+v, %v; want the first archival kept", again, err)
	}
	if _, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "shadow", Version: 3, Actor: "x"}); !errors.Is(err, model.ErrVersionArchived) {
		t.Fatalf("move to an archived version: %v, want ErrVersionArchived", err)
	}
	rb, err := f.reg.Rollback(ctx, model.RollbackRequest{Model: name, Actor: "bob", Reason: "incident"})
	if err != nil {
		t.Fatal(err)
	}
	if rb.FromVersion != 4 || rb.ToVersion != 2 || !rb.Rollback || rb.Actor != "bob" || rb.Reason != "incident" {
		t.Fatalf("rollback %+v, want 4 -> 2 (3 is archived)", rb)
	}
	if rb, err = f.reg.Rollback(ctx, model.RollbackRequest{Model: name, Actor: "bob"}); err != nil || rb.ToVersion != 1 {
		t.Fatalf("second rollback: %+v, %v; want 2 -> 1", rb, err)
	}
	if _, err = f.reg.Rollback(ctx, model.RollbackRequest{Model: name, Actor: "bob"}); !errors.Is(err, model.ErrNoRollbackTarget) {
		t.Fatalf("third rollback: %v, want ErrNoRollbackTarget", err)
	}
	v, err := f.reg.Version(ctx, name, "production")
	if err != nil || v.Version != 1 {
		t.Fatalf("production resolves to %d (%v), want 1", v.Version, err)
	}
	m, err := f.reg.Model(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, a := range m.Aliases {
		got[a.Name] = a.Version
		if a.Name == "canary" && (a.Weight == nil || *a.Weight != 0.25) {
			t.Errorf("canary weight %v, want 0.25", a.Weight)
		}
	}
	if want := map[string]int{"production": 1, "canary": 4, "my-ab-test": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("aliases %v, want %v", got, want)
	}
	audit, err := f.reg.Audit(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 8 {
		t.Fatalf("audit trail has %d entries, want 8: %+v", len(audit), audit)
	}
	last := audit[len(audit)-1]
	if !last.Rollback || last.FromVersion != 2 || last.ToVersion != 1 || last.At.IsZero() {
		t.Fatalf("last audit entry %+v", last)
	}
}

func TestFeatureDefinitionsMustBeApplied(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := registrytest.ModelName(t)
	a := registrytest.PutBytes(t, f.st, []byte("needs txn"))
	view := "txn" // the fixture's prefix isolates the features bucket
	v, err := f.reg.Register(ctx, registrytest.Request(name, a, "def-1"))
	if err != nil {
		t.Fatal(err)
	}
	move := func() error {
		_, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: v.Version, Actor: "alice"})
		return err
	}
	err = move()
	if !errors.Is(err, model.ErrFeaturesNotApplied) || !strings.Contains(err.Error(), "feature view txn is not applied") {
		t.Fatalf("move with the view missing: %v", err)
	}
	features, err := f.js.KeyValue(ctx, f.prefix+natsx.BucketFeatures)
	if err != nil {
		t.Fatal(err)
	}
	put := func(version string) {
		b, _ := json.Marshal(model.FeatureView{Name: view, Version: version, AppliedAt: time.Now()})
		if _, err := features.Put(ctx, model.FeatureViewKey(view), b); err != nil {
			t.Fatal(err)
		}
	}
	put("def-2")
	err = move()
	if !errors.Is(err, model.ErrFeaturesNotApplied) || !strings.Contains(err.Error(), "at definition def-2") || !strings.Contains(err.Error(), "trained on def-1") {
		t.Fatalf("move with another definition applied: %v", err)
	}
	put("def-1")
	if err := move(); err != nil {
		t.Fatalf("move with the definition applied: %v", err)
	}
	// A version without feature definitions skips the check.
	plain := registrytest.Register(t, f.reg, f.st, name, "no feature views")
	if _, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "shadow", Version: plain.Version, Actor: "alice"}); err != nil {
		t.Fatalf("move of a version without feature definitions: %v", err)
	}
}

func TestUnknownAndInvalid(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := registrytest.ModelName(t)
	registrytest.Register(t, f.reg, f.st, name, "v1")
	missing := registrytest.ModelName(t)
	for _, tc := range []struct {
		name string
		call func() error
		want error
		msg  string
	}{
		{"model of unknown model", func() error { _, err := f.reg.Model(ctx, missing); return err }, model.ErrModelNotFound, missing},
		{"versions of unknown model", func() error { _, err := f.reg.Versions(ctx, missing); return err }, model.ErrModelNotFound, missing},
		{"version of unknown model", func() error { _, err := f.reg.Version(ctx, missing, "1"); return err }, model.ErrModelNotFound, missing},
		{"unknown version", func() error { _, err := f.reg.Version(ctx, name, "7"); return err }, model.ErrVersionNotFound, "has no version 7"},
		{"unknown alias", func() error { _, err := f.reg.Version(ctx, name, "production"); return err }, model.ErrAliasNotFound, "no alias \"production\""},
		{"alias of unknown model", func() error { _, err := f.reg.Version(ctx, missing, "production"); return err }, model.ErrModelNotFound, missing},
		{"bad version ref", func() error { _, err := f.reg.Version(ctx, name, "1.5"); return err }, model.ErrInvalidRequest, "neither"},
		{"bad model name", func() error { _, err := f.reg.Model(ctx, "a.b"); return err }, model.ErrInvalidName, "a.b"},
		{"bad model name >", func() error { _, err := f.reg.Versions(ctx, ">"); return err }, model.ErrInvalidName, ">"},
		{"move to unknown version", func() error {
			_, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: 9, Actor: "a"})
			return err
		}, model.ErrVersionNotFound, "no version 9"},
		{"move on unknown model", func() error {
			_, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: missing, Alias: "production", Version: 1, Actor: "a"})
			return err
		}, model.ErrModelNotFound, missing},
		{"bad alias name", func() error {
			_, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "prod*", Version: 1, Actor: "a"})
			return err
		}, model.ErrInvalidName, "alias"},
		{"canary without weight", func() error {
			_, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "canary", Version: 1, Actor: "a"})
			return err
		}, model.ErrInvalidRequest, "weight"},
		{"canary weight above 1", func() error {
			_, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "canary", Version: 1, Weight: ptr(1.5), Actor: "a"})
			return err
		}, model.ErrInvalidRequest, "between 0 and 1"},
		{"weight on production", func() error {
			_, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: 1, Weight: ptr(0.5), Actor: "a"})
			return err
		}, model.ErrInvalidRequest, "only the canary"},
		{"move without actor", func() error {
			_, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: 1})
			return err
		}, model.ErrInvalidRequest, "actor"},
		{"archive unknown version", func() error {
			_, err := f.reg.Archive(ctx, model.ArchiveRequest{Model: name, Version: 5, Actor: "a"})
			return err
		}, model.ErrVersionNotFound, "no version 5"},
		{"audit of unknown model", func() error { _, err := f.reg.Audit(ctx, missing); return err }, model.ErrModelNotFound, missing},
		{"register an artifact that is not stored", func() error {
			_, err := f.reg.Register(ctx, registrytest.Request(name, model.Artifact{SHA256: strings.Repeat("0", 64), Size: 3}, ""))
			return err
		}, model.ErrArtifactNotFound, "not in the object store"},
		{"register with a wrong size", func() error {
			a := registrytest.PutBytes(t, f.st, []byte("four"))
			a.Size = 5
			_, err := f.reg.Register(ctx, registrytest.Request(name, a, ""))
			return err
		}, model.ErrInvalidRequest, "has 4 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v mentioning %q", err, tc.want.(*model.Error).Code, tc.msg)
			}
		})
	}
}

// Lifecycle events reach the stream after each change, with the state they
// report, valid against their schemas.
func TestLifecycleEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := registrytest.ModelName(t)
	registrytest.Register(t, f.reg, f.st, name, "one")
	registrytest.Register(t, f.reg, f.st, name, "two")
	for _, v := range []int{1, 2} {
		if _, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: v, Actor: "trainer"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.reg.Rollback(ctx, model.RollbackRequest{Model: name, Actor: "monitor", Reason: "drift"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Archive(ctx, model.ArchiveRequest{Model: name, Version: 2, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	evs := registrytest.Events(t, f.js, f.prefix, name, 6)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []string{event.TypeModelRegistered, event.TypeModelRegistered, event.TypeModelAliasMoved, event.TypeModelAliasMoved, event.TypeModelAliasMoved, event.TypeModelArchived}
	if !slices.Equal(types, want) {
		t.Fatalf("event types %v, want %v; events: %v", types, want, evs)
	}
	validator, err := event.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if err := validator.Validate(e.Type, e.Data); err != nil {
			t.Errorf("%s: %v", e, err)
		}
		if wantSubj, _ := event.Subject(e.Type); e.Subject != f.prefix+wantSubj {
			t.Errorf("%s on subject %s", e.Type, e.Subject)
		}
	}
	var rb event.ModelAliasMoved
	if err := json.Unmarshal(evs[4].Data, &rb); err != nil {
		t.Fatal(err)
	}
	if !rb.Rollback || rb.FromVersion != 2 || rb.ToVersion != 1 || rb.Actor != "monitor" || rb.Reason != "drift" {
		t.Fatalf("rollback event %+v", rb)
	}
	var reg event.ModelRegistered
	if err := json.Unmarshal(evs[1].Data, &reg); err != nil {
		t.Fatal(err)
	}
	if reg.Version != 2 || reg.ArtifactSize != 3 || len(reg.Features) != 2 || reg.Metrics["auc"] != 0.91 {
		t.Fatalf("registered event %+v", reg)
	}
}

// A new registry (a restart, or another replica) sees everything and goes on
// numbering where the last one stopped.
func TestRegistryRestart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := registrytest.ModelName(t)
	registrytest.Register(t, f.reg, f.st, name, "one")
	registrytest.Register(t, f.reg, f.st, name, "two")
	if _, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: 2, Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	_, js := registrytest.Connect(t, registrytest.RealNATSURL(t))
	reg2, st2 := registrytest.NewRegistry(t, js, f.prefix)
	if v, err := reg2.Version(ctx, name, "production"); err != nil || v.Version != 2 {
		t.Fatalf("production after restart: %d, %v", v.Version, err)
	}
	if v := registrytest.Register(t, reg2, st2, name, "three"); v.Version != 3 {
		t.Fatalf("first version after restart is %d, want 3", v.Version)
	}
}

// A move whose audit entry was lost (the process died between the alias
// write and the audit write) gets it written by the next move of the alias.
func TestAuditRepair(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := registrytest.ModelName(t)
	registrytest.Register(t, f.reg, f.st, name, "one")
	registrytest.Register(t, f.reg, f.st, name, "two")
	kv, err := f.js.KeyValue(ctx, f.prefix+natsx.BucketModels)
	if err != nil {
		t.Fatal(err)
	}
	lost := model.Alias{Model: name, Name: "production", Version: 1, MovedAt: time.Now().UTC(), Actor: "crashed", Reason: "before the crash"}
	b, _ := json.Marshal(lost)
	rev, err := kv.Create(ctx, model.AliasKey(name, "production"), b)
	if err != nil {
		t.Fatal(err)
	}
	if audit, err := f.reg.Audit(ctx, name); err != nil || len(audit) != 0 {
		t.Fatalf("audit before the next move: %+v, %v", audit, err)
	}
	if _, err := f.reg.MoveAlias(ctx, model.MoveAliasRequest{Model: name, Alias: "production", Version: 2, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	audit, err := f.reg.Audit(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 2 || audit[0].Actor != "crashed" || audit[0].Revision != rev || audit[1].FromVersion != 1 || audit[1].ToVersion != 2 {
		t.Fatalf("audit trail %+v, want the repaired entry then the move", audit)
	}
}

// A registration retried with its request id returns the first version;
// concurrent duplicates register one version between them.
func TestIdempotentRegistration(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := registrytest.ModelName(t)
	a := registrytest.PutBytes(t, f.st, []byte("job output"))
	req := registrytest.Request(name, a, "")
	req.RequestID = "job-42"
	first, err := f.reg.Register(ctx, req)
	if err != nil || first.RequestID != "job-42" {
		t.Fatalf("register: %+v, %v", first, err)
	}
	again, err := f.reg.Register(ctx, req)
	if err != nil || again.Version != first.Version {
		t.Fatalf("retry: version %d, %v; want %d", again.Version, err, first.Version)
	}
	other := req
	other.Artifact = registrytest.PutBytes(t, f.st, []byte("other output"))
	if _, err := f.reg.Register(ctx, other); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("same request id, other artifact: %v, want ErrConflict", err)
	}
	// A failed registration releases its id.
	failing := req
	failing.RequestID = "job-43"
	failing.Artifact = model.Artifact{SHA256: strings.Repeat("1", 64), Size: 1}
	if _, err := f.reg.Register(ctx, failing); !errors.Is(err, model.ErrArtifactNotFound) {
		t.Fatalf("failing registration: %v", err)
	}
	failing.Artifact = a
	if v, err := f.reg.Register(ctx, failing); err != nil || v.Version != 2 {
		t.Fatalf("retry after a failure: %+v, %v", v, err)
	}

	req.RequestID = "job-44"
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := f.reg.Register(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				got[v.Version]++
			case !errors.Is(err, model.ErrConflict):
				t.Errorf("concurrent duplicate: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(got) != 1 {
		t.Fatalf("concurrent duplicates registered versions %v, want one", got)
	}
	if v, err := f.reg.Register(ctx, req); err != nil || got[v.Version] == 0 {
		t.Fatalf("retry after the duplicates: %+v, %v (versions %v)", v, err, got)
	}
	if vs, err := f.reg.Versions(ctx, name); err != nil || len(vs) != 3 {
		t.Fatalf("%d versions stored, want 3: %v", len(vs), err)
	}
}
