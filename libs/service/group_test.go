package service

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// blocker is an actor that runs until its context ends and counts that.
func blocker(stopped *atomic.Int32) func(context.Context) error {
	return func(ctx context.Context) error {
		<-ctx.Done()
		stopped.Add(1)
		return ctx.Err()
	}
}

func TestGroup(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name     string
		cancel   bool // cancel the group's context after start
		failing  func(context.Context) error
		wantErrs []string // substrings the error must hold; nil for no error
		wantIs   error
	}{
		{
			name:     "one actor failing stops all",
			failing:  func(context.Context) error { return boom },
			wantErrs: []string{"actor failing: boom"},
			wantIs:   boom,
		},
		{
			name:    "context cancel stops all cleanly",
			cancel:  true,
			failing: nil,
		},
		{
			name:     "an actor returning nil early stops all",
			failing:  func(context.Context) error { return nil },
			wantErrs: []string{"actor failing"},
			wantIs:   ErrStoppedEarly,
		},
		{
			name:   "errors after the stop are kept",
			cancel: true,
			failing: func(ctx context.Context) error {
				<-ctx.Done()
				return errors.New("flush on stop")
			},
			wantErrs: []string{"actor failing: flush on stop"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stopped atomic.Int32
			var g Group
			g.Add("a", blocker(&stopped))
			g.Add("b", blocker(&stopped))
			if tc.failing != nil {
				g.Add("failing", tc.failing)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- g.Run(ctx) }()
			if tc.cancel {
				cancel()
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("group did not stop")
			}
			if got := stopped.Load(); got != 2 {
				t.Errorf("%d of 2 blocking actors stopped", got)
			}
			if tc.wantErrs == nil {
				if err != nil {
					t.Fatalf("want nil, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error, got nil")
			}
			for _, w := range tc.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %q is not %v", err, tc.wantIs)
			}
		})
	}
}

func TestGroupJoinsAllErrors(t *testing.T) {
	first, second := errors.New("first"), errors.New("second")
	var g Group
	g.Add("one", func(context.Context) error { return first })
	g.Add("two", func(ctx context.Context) error { <-ctx.Done(); return second })
	err := g.Run(context.Background())
	if !errors.Is(err, first) || !errors.Is(err, second) {
		t.Fatalf("want both errors, got %v", err)
	}
	if strings.Index(err.Error(), "first") > strings.Index(err.Error(), "second") {
		t.Errorf("the first error to happen should come first: %q", err)
	}
}

func TestGroupEmpty(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var g Group
	if err := g.Run(ctx); err != nil {
		t.Fatal(err)
	}
}
