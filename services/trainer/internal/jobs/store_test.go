package jobs_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/testkit"
	"github.com/tributary-ml/tributary/services/trainer/internal/jobs"
	"github.com/tributary-ml/tributary/services/trainer/internal/trainertest"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

// clock is a settable clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func req(id, model string) jobs.Request {
	return jobs.Request{JobID: id, Model: model, Trigger: event.TriggerManual}
}

func newStore(t *testing.T) (*jobs.Store, *clock) {
	e := trainertest.StartEmbedded(t)
	_, js := e.Connect()
	c := newClock()
	return jobs.NewStore(e.Jobs(js), jobs.WithClock(c.now)), c
}

func TestRedeliveredRequestStartsNoSecondJob(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	j, out, err := s.Submit(ctx, req("j1", "fraud"))
	if err != nil || out != jobs.OutcomeActive || j.Status != jobs.StatusQueued {
		t.Fatalf("first submit: %v %v %+v", out, err, j)
	}
	if _, err := s.Claim(ctx, "j1", "a", time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	j, out, err = s.Submit(ctx, req("j1", "fraud"))
	if err != nil || out != jobs.OutcomeDuplicate || j.Status != jobs.StatusRunning || j.Owner != "a" {
		t.Fatalf("redelivery: %v %v %+v", out, err, j)
	}
	q, err := s.Queue(ctx, "fraud")
	if err != nil || q.Active != "j1" || q.Pending != "" {
		t.Fatalf("queue %+v %v", q, err)
	}
	all, err := s.List(ctx, "fraud", 0)
	if err != nil || len(all) != 1 {
		t.Fatalf("jobs %d %v, want 1", len(all), err)
	}
}

func TestTriggersCollapseIntoOneFollowUp(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	want := []jobs.Outcome{jobs.OutcomeActive, jobs.OutcomeQueued, jobs.OutcomeCollapsed, jobs.OutcomeCollapsed}
	for i, id := range []string{"a", "b", "c", "d"} {
		_, out, err := s.Submit(ctx, req(id, "m"))
		if err != nil || out != want[i] {
			t.Fatalf("submit %s: %v %v, want %v", id, out, err, want[i])
		}
	}
	// Another model is independent.
	if _, out, _ := s.Submit(ctx, req("x", "other")); out != jobs.OutcomeActive {
		t.Fatalf("other model: %v", out)
	}
	c, err := s.Get(ctx, "c")
	if err != nil || c.Status != jobs.StatusCollapsed || c.CollapsedInto != "b" {
		t.Fatalf("c: %+v %v", c, err)
	}
	b, _ := s.Get(ctx, "b")
	if len(b.Collapsed) != 2 || b.Collapsed[0] != "c" || b.Collapsed[1] != "d" {
		t.Fatalf("b collapsed %v", b.Collapsed)
	}
	if _, err := s.Claim(ctx, "b", "w", time.Minute, time.Hour); err != nil {
		// b is queued but not active: claims are made on active jobs by
		// the runner; a claim itself does not check the queue.
		t.Logf("claim b: %v", err)
	}
	if _, err := s.Claim(ctx, "a", "w", time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	_, next, err := s.End(ctx, "a", "w", func(j *jobs.Job) { j.Status = jobs.StatusSucceeded })
	if err != nil || next != "b" {
		t.Fatalf("end a: next %q %v, want b", next, err)
	}
	q, _ := s.Queue(ctx, "m")
	if q.Active != "b" || q.Pending != "" || q.Last != "a" {
		t.Fatalf("queue %+v", q)
	}
	// A trigger now waits behind b.
	if _, out, _ := s.Submit(ctx, req("e", "m")); out != jobs.OutcomeQueued {
		t.Fatalf("submit e: %v", out)
	}
}

func TestTwoWorkersClaimOnce(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for round := range 5 {
		id := "job" + string(rune('0'+round))
		if _, _, err := s.Submit(ctx, req(id, "m"+id)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var won, claimed atomic.Int32
		for _, owner := range []string{"w1", "w2"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Claim(ctx, id, owner, time.Minute, time.Hour)
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, jobs.ErrClaimed):
					claimed.Add(1)
				default:
					t.Errorf("claim %s: %v", owner, err)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 || claimed.Load() != 1 {
			t.Fatalf("round %d: %d claims won, %d refused; want 1 and 1", round, won.Load(), claimed.Load())
		}
		j, _ := s.Get(ctx, id)
		if j.Claims != 1 {
			t.Fatalf("claims %d", j.Claims)
		}
	}
}

func TestExpiredLeaseIsClaimedAndTheOldOwnerStops(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	if _, _, err := s.Submit(ctx, req("j", "m")); err != nil {
		t.Fatal(err)
	}
	first, err := s.Claim(ctx, "j", "a", 30*time.Second, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "j", "b", 30*time.Second, time.Hour); !errors.Is(err, jobs.ErrClaimed) {
		t.Fatalf("claim during the lease: %v", err)
	}
	if r, _ := s.Runnable(ctx); len(r) != 0 {
		t.Fatalf("runnable during the lease: %d", len(r))
	}
	c.add(31 * time.Second)
	r, err := s.Runnable(ctx)
	if err != nil || len(r) != 1 || r[0].JobID != "j" {
		t.Fatalf("runnable after the lease: %v %v", r, err)
	}
	second, err := s.Claim(ctx, "j", "b", 30*time.Second, time.Hour)
	if err != nil || second.Owner != "b" || second.Claims != 2 {
		t.Fatalf("claim after the lease: %+v %v", second, err)
	}
	if !second.Deadline.Equal(first.Deadline) || !second.StartedAt.Equal(first.StartedAt) {
		t.Errorf("a resumed job keeps its start and deadline: %v/%v vs %v/%v", second.StartedAt, second.Deadline, first.StartedAt, first.Deadline)
	}
	if err := s.Renew(ctx, "j", "a", time.Minute); !errors.Is(err, jobs.ErrLeaseLost) {
		t.Fatalf("renew by the old owner: %v", err)
	}
	if _, _, err := s.End(ctx, "j", "a", func(j *jobs.Job) { j.Status = jobs.StatusFailed }); !errors.Is(err, jobs.ErrLeaseLost) {
		t.Fatalf("end by the old owner: %v", err)
	}
}

func TestJobsSurviveServerRestart(t *testing.T) {
	e := trainertest.StartEmbedded(t)
	_, js := e.Connect()
	ctx := context.Background()
	s := jobs.NewStore(e.Jobs(js))
	if _, _, err := s.Submit(ctx, req("j", "m")); err != nil {
		t.Fatal(err)
	}
	e.Restart()
	testkit.EventuallyContext(t, 20*time.Second, func(ctx context.Context) error {
		_, js := e.Connect()
		s := jobs.NewStore(e.Jobs(js))
		r, err := s.Runnable(ctx)
		if err != nil {
			return err
		}
		if len(r) != 1 || r[0].JobID != "j" || r[0].Status != jobs.StatusQueued {
			return errors.New("job not runnable after the restart")
		}
		return nil
	})
}
