package app

import (
	"testing"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
)

func TestConfigFlags(t *testing.T) {
	servicetest.CheckDependencyFlags(t, &Config{}, "nats")
}

func TestConfigValidate(t *testing.T) {
	if err := servicetest.ParseConfig(t, &Config{}); err != nil {
		t.Fatalf("defaults are invalid: %v", err)
	}
	servicetest.CheckInvalid(t, func() service.AppConfig { return &Config{} }, []servicetest.Invalid{
		{Name: "nats.url", Args: []string{"-nats.url="}, Want: "nats.url"},
		{Name: "orphan chunk age", Args: []string{"-registry.orphan-chunk-age=0s"}, Want: "registry.orphan-chunk-age"},
	})
}
