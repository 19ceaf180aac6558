package app

import (
	"testing"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
)

func TestConfigFlags(t *testing.T) {
	servicetest.CheckDependencyFlags(t, &Config{}, "kafka", "nats", "redis", "clickhouse")
}

func TestConfigValidate(t *testing.T) {
	if err := servicetest.ParseConfig(t, &Config{}); err != nil {
		t.Fatalf("defaults are invalid: %v", err)
	}
	servicetest.CheckInvalid(t, func() service.AppConfig { return &Config{} }, []servicetest.Invalid{
		{Name: "kafka.brokers", Args: []string{"-kafka.brokers=nocolon"}, Want: "kafka.brokers"},
		{Name: "nats.url", Args: []string{"-nats.url="}, Want: "nats.url"},
		{Name: "redis.db", Args: []string{"-redis.db=-1"}, Want: "redis.db"},
		{Name: "clickhouse.database", Args: []string{"-clickhouse.database=bad-name"}, Want: "clickhouse.database"},
	})
}
