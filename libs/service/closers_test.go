package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestClosersReverseOrderJoinedErrors(t *testing.T) {
	var order []string
	var c closers
	errB, errD := errors.New("b broke"), errors.New("d broke")
	for _, name := range []string{"a", "b", "c", "d"} {
		c.add(name, func(context.Context) error {
			order = append(order, name)
			switch name {
			case "b":
				return errB
			case "d":
				return errD
			}
			return nil
		})
	}
	err := c.closeAll(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if want := []string{"d", "c", "b", "a"}; !reflect.DeepEqual(order, want) {
		t.Errorf("closed in order %v, want %v", order, want)
	}
	if !errors.Is(err, errB) || !errors.Is(err, errD) {
		t.Errorf("want both errors joined, got %v", err)
	}
	if !strings.Contains(err.Error(), "close b:") || !strings.Contains(err.Error(), "close d:") {
		t.Errorf("errors do not name their closer: %v", err)
	}
	if err := c.closeAll(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Errorf("second closeAll closed again: %v", err)
	}
}

func TestClosersDeadline(t *testing.T) {
	var c closers
	release := make(chan struct{})
	var lastRan atomic.Bool
	c.add("first", func(context.Context) error { lastRan.Store(true); return nil })
	c.add("stuck", func(context.Context) error { <-release; return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.closeAll(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "close stuck") {
		t.Errorf("want the stuck closer reported, got %v", err)
	}
	if !lastRan.Load() {
		t.Error("a stuck closer kept the ones before it from running")
	}
}
