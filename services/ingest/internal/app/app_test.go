package app

import (
	"testing"

	"github.com/tributary-ml/tributary/libs/service"
	"github.com/tributary-ml/tributary/libs/service/servicetest"
)

func TestConfigFlags(t *testing.T) {
	servicetest.CheckDependencyFlags(t, &Config{}, "kafka", "nats")
}

func TestConfigValidate(t *testing.T) {
	if err := servicetest.ParseConfig(t, &Config{}); err != nil {
		t.Fatalf("defaults are invalid: %v", err)
	}
	if err := servicetest.ParseConfig(t, &Config{}, "-streams.dir=../../../../schemas/streams", "-auth.disabled"); err != nil {
		t.Fatalf("the repository's streams: %v", err)
	}
	servicetest.CheckInvalid(t, func() service.AppConfig { return &Config{} }, []servicetest.Invalid{
		{Name: "kafka.brokers", Args: []string{"-kafka.brokers=nocolon"}, Want: "kafka.brokers"},
		{Name: "nats.url", Args: []string{"-nats.url="}, Want: "nats.url"},
		{Name: "http.max-batch", Args: []string{"-http.max-batch=0"}, Want: "http.max-batch"},
		{Name: "http.max-in-flight", Args: []string{"-http.max-in-flight=0"}, Want: "http.max-in-flight"},
		{Name: "events.max-event-bytes", Args: []string{"-events.max-event-bytes=0"}, Want: "events.max-event-bytes"},
		{Name: "events.max-future", Args: []string{"-events.max-future=0s"}, Want: "events.max-future"},
		{Name: "produce.timeout", Args: []string{"-produce.timeout=0s"}, Want: "produce.timeout"},
		{Name: "produce.max-buffered-bytes", Args: []string{"-produce.max-buffered-bytes=1000"}, Want: "produce.max-buffered-bytes"},
		{Name: "dedup.window", Args: []string{"-dedup.window=-1s"}, Want: "dedup.window"},
		{Name: "raw.group", Args: []string{"-raw.group="}, Want: "raw.group"},
		{Name: "auth.keys", Args: []string{"-auth.keys=nope"}, Want: "auth.keys"},
		{Name: "streams.dir missing", Args: []string{"-streams.dir=/nonexistent"}, Want: "streams.dir"},
		{Name: "streams.dir invalid", Args: []string{"-streams.dir=testdata/badstreams"}, Want: "bad.json"},
	})
}
