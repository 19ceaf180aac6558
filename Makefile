# Tributary — one Makefile for the whole workspace.
#   make run         install and start the local stack and all six services
#   make test        start the local stack, run every module's tests and the e2e suite
#   make lint        gofmt, go vet and staticcheck over every module
#   make pyenv       build (first time) the tests' Python environment from deploy/local/python/requirements.txt
#   make bench       start the local stack and run the benchmarks
#   make build       build the six services and the cli into bin/
#   make infra-up    install (first time) and start Kafka, NATS, Redis, ClickHouse
#   make infra-down  stop what infra-up started
#   make clean       stop everything, remove bin/ and the local data (.data/)

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

SERVICES := ingest features trainer registry serving monitor
MODULES  := libs schemas cli $(addprefix services/,$(SERVICES)) deploy e2e
BIN      := $(CURDIR)/bin
INFRA    := deploy/local/infra.sh

# Tools are pinned here and installed from the Go module proxy into a cache
# shared by every clone.
STATICCHECK_VERSION := v0.7.0
TOOLS_DIR := $(or $(TRIBUTARY_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tributary)/tools
STATICCHECK := $(TOOLS_DIR)/staticcheck-$(STATICCHECK_VERSION)
# helm for the chart checks of deploy/check (lint --strict, template); keep in
# step with HelmVersion there.
HELM_VERSION := v3.22.0
HELM := $(TOOLS_DIR)/helm-$(HELM_VERSION)
# The tests' one Python environment, $(TOOLS_DIR)/pyenv-<sha256 of the
# requirements>, built by deploy/local/pyenv.sh (see deploy/local/README.md).
PYENV := TRIBUTARY_TOOLS_DIR=$(TOOLS_DIR) deploy/local/pyenv.sh

# Test knobs: `make test TEST_FLAGS=-short` skips what needs the real stack.
TEST_FLAGS ?=
TEST_TIMEOUT ?= 15m
# Length of each load scenario of `make bench`.
BENCH_DURATION ?= 10s
# Alternated rounds of each side-by-side benchmark of `make bench`.
BENCH_ROUNDS ?= 3

.PHONY: help run test bench build lint infra-up infra-down clean tools pyenv

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)

build:
	@mkdir -p $(BIN)
	@for s in $(SERVICES); do go build -o $(BIN)/$$s ./services/$$s/cmd/$$s; done
	@go build -o $(BIN)/tributary ./cli/cmd/tributary
	@for a in amd64 arm64; do CGO_ENABLED=0 GOOS=linux GOARCH=$$a go build -trimpath -o $(BIN)/serving-linux-$$a ./services/serving/cmd/serving; done
	@echo "built $(SERVICES) tributary into bin/, and serving as static binaries for linux/amd64 and linux/arm64 (CGO_ENABLED=0)"

infra-up:
	@$(INFRA) up

infra-down:
	@$(INFRA) down

run: build infra-up
	@deploy/local/run.sh $(BIN)

pyenv:
	@$(PYENV) ensure >/dev/null

test: infra-up pyenv $(HELM)
	@eval "$$($(INFRA) env)"; \
	export TRIBUTARY_PYTHON="$$($(PYENV) path)" TRIBUTARY_HELM=$(HELM); \
	start=$$(date +%s); \
	for m in $(MODULES); do \
		echo "== go test $$m"; \
		(cd $$m && go test -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...); \
	done; \
	echo "all tests passed in $$(( $$(date +%s) - start ))s"

bench: infra-up pyenv
	@eval "$$($(INFRA) env)"; \
	export TRIBUTARY_PYTHON="$$($(PYENV) path)"; \
	echo "== CPU benchmarks: tiles decode+read, drift of 1M predictions x 50 features, ingest batch decoding"; \
	(cd libs && go test -run '^$$' -bench . -benchmem ./tiles/); \
	(cd libs && go test -run '^$$' -bench 'Drift1Mx50$$' -benchtime 1x ./drift/); \
	(cd services/ingest && go test -run '^$$' -bench . -benchmem ./internal/httpapi/ ./internal/datacheck/); \
	echo "== features against the local stack: reads beside raw Redis, freshness, materializer, training sets"; \
	(cd services/features && go test -run '^$$' -bench 'OnlineRead|Freshness|Materializer|TrainingSet' -benchtime=1x -timeout 30m ./internal/app/); \
	echo "== features read API under load (c=8, c=32) beside Feast's Python feature server, raw flat and tile Redis reads, $(BENCH_ROUNDS) alternated rounds"; \
	feast_py=$$($(PYENV) ensure deploy/local/python/bench-feast.txt) || { echo "bench: the Feast environment (deploy/local/python/bench-feast.txt) did not build" >&2; exit 1; }; \
	(cd services/features && TRIBUTARY_FEAST_PYTHON="$$feast_py" TRIBUTARY_BENCH_ROUNDS=$(BENCH_ROUNDS) TRIBUTARY_BENCH_LOAD_DURATION=$(BENCH_DURATION) \
		go test -run '^$$' -bench 'OnlineLoad' -benchtime=1x -timeout 30m ./internal/app/); \
	echo "== ingest: HTTP into the real Kafka, beside a raw producer and an empty handler"; \
	go run ./services/ingest/cmd/ingest-bench -duration $(BENCH_DURATION) -rounds 3; \
	echo "== built-in learners beside scikit-learn, 1M rows x 20 features, $(BENCH_ROUNDS) alternated rounds"; \
	libs/learn/bench/vs_sklearn.sh lr "$$TRIBUTARY_PYTHON" $(BENCH_ROUNDS); \
	libs/learn/bench/vs_sklearn.sh gbdt "$$TRIBUTARY_PYTHON" $(BENCH_ROUNDS); \
	echo "== serving: /v1/predict 1 entity x 20 online features at 2000/s (logistic, 500-tree GBDT), beside raw go-redis, an empty handler and MLServer"; \
	go run ./services/serving/cmd/serving-bench -rate 2000 -duration $(BENCH_DURATION); \
	echo "== monitor: prediction-log rows/s into ClickHouse through the monitor, beside clickhouse-go's raw batch insert of the same rows"; \
	(cd services/monitor && go test -run '^$$' -bench BenchmarkPredictionLog -benchtime 3x -timeout 20m ./internal/consume/); \
	echo "== drift of 1M predictions x 50 features beside Evidently's DataDriftPreset on the same data"; \
	libs/drift/bench/vs_evidently.sh "$$($(PYENV) ensure deploy/local/python/bench-evidently.txt || true)"

$(STATICCHECK):
	@mkdir -p $(TOOLS_DIR)
	@echo "installing staticcheck $(STATICCHECK_VERSION)"
	@tmp=$$(mktemp -d); GOBIN=$$tmp go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); mv $$tmp/staticcheck $@; rmdir $$tmp

$(HELM):
	@mkdir -p $(TOOLS_DIR)
	@echo "installing helm $(HELM_VERSION) (about two minutes, once)"
	@tmp=$$(mktemp -d); GOWORK=off GOBIN=$$tmp go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION); mv $$tmp/helm $@; rmdir $$tmp

tools: $(STATICCHECK) $(HELM)

lint: $(STATICCHECK)
	@unformatted=$$(gofmt -l $(MODULES)); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	@for m in $(MODULES); do \
		echo "== vet + staticcheck $$m"; \
		(cd $$m && go vet ./... && $(STATICCHECK) ./...); \
	done
	@echo "lint clean"

clean:
	@-$(INFRA) down
	rm -rf $(BIN) .data
