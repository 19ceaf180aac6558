package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
)

func TestConfigFlags(t *testing.T) {
	servicetest.CheckDependencyFlags(t, &Config{}, "kafka", "nats", "clickhouse")
}

func TestConfigValidate(t *testing.T) {
	if err := servicetest.ParseConfig(t, &Config{}); err != nil {
		t.Fatalf("defaults are invalid: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "models.json")
	if err := os.WriteFile(bad, []byte(`{"models": {"churn": {"task": "ranking"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	servicetest.CheckInvalid(t, func() service.AppConfig { return &Config{} }, []servicetest.Invalid{
		{Name: "kafka.brokers", Args: []string{"-kafka.brokers=nocolon"}, Want: "kafka.brokers"},
		{Name: "nats.url", Args: []string{"-nats.url="}, Want: "nats.url"},
		{Name: "clickhouse.database", Args: []string{"-clickhouse.database=bad-name"}, Want: "clickhouse.database"},
		{Name: "labels.group", Args: []string{"-labels.group="}, Want: "labels.group"},
		{Name: "labels.sweep-interval", Args: []string{"-labels.sweep-interval=0s"}, Want: "labels.sweep-interval"},
		{Name: "performance.windows", Args: []string{"-performance.windows=90ms"}, Want: "performance.windows"},
		{Name: "performance.min-labels", Args: []string{"-performance.min-labels=0"}, Want: "performance.min-labels"},
		{Name: "performance.models missing", Args: []string{"-performance.models=/nonexistent/models.json"}, Want: "performance.models"},
		{Name: "performance.models bad", Args: []string{"-performance.models=" + bad}, Want: "performance.models"},
	})
}
