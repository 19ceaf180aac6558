package service

import (
	"fmt"
	"io"
	"log/slog"
)

// parseLevel turns a log.level value into a slog level.
func parseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log.level: %q: %w", s, errLevel)
}

// NewLogger returns the JSON logger of a service: records go to w at the
// given level and up, each with a "service" attribute.
func NewLogger(w io.Writer, service string, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})).With("service", service)
}
