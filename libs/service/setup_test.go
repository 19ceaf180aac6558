package service

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSetupRetriesUntilDone(t *testing.T) {
	rt := newRuntime("demo", quietLogger(), nil, nil)
	var attempts atomic.Int32
	s := rt.AddSetup("connect", func(context.Context) error {
		if attempts.Add(1) < 3 {
			return errors.New("connection refused")
		}
		return nil
	})
	if err := s.Check(context.Background()); err == nil {
		t.Fatal("check passes before the setup ran")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- rt.start().Run(ctx) }()

	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := s.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Errorf("check after success: %v", err)
	}
	if n := attempts.Load(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Errorf("a finished setup must keep running until the stop, got %v", err)
	}
}

func TestSetupWaitReportsLastError(t *testing.T) {
	rt := newRuntime("demo", quietLogger(), nil, nil)
	s := rt.AddSetup("connect", func(context.Context) error { return errors.New("connection refused") })
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- rt.start().Run(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer wcancel()
	err := s.Wait(wctx)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v", err)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Error(err)
	}
}
