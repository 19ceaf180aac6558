package app

import (
	"testing"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
)

func TestConfigFlags(t *testing.T) {
	servicetest.CheckDependencyFlags(t, &Config{}, "nats", "clickhouse")
}

func TestConfigValidate(t *testing.T) {
	if err := servicetest.ParseConfig(t, &Config{}); err != nil {
		t.Fatalf("defaults are invalid: %v", err)
	}
	servicetest.CheckInvalid(t, func() service.AppConfig { return &Config{} }, []servicetest.Invalid{
		{Name: "nats.url", Args: []string{"-nats.url="}, Want: "nats.url"},
		{Name: "concurrency", Args: []string{"-jobs.concurrency=0"}, Want: "-jobs.concurrency"},
		{Name: "lease", Args: []string{"-jobs.lease=10ms"}, Want: "-jobs.lease"},
		{Name: "attempts", Args: []string{"-jobs.attempts=0"}, Want: "-jobs.attempts"},
		{Name: "schedule", Args: []string{"-schedule.tick=-1s"}, Want: "-schedule.tick"},
		{Name: "dataset timeout", Args: []string{"-datasets.timeout=0s"}, Want: "-datasets.timeout"},
	})
}
