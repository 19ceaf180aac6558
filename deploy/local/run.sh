#!/usr/bin/env bash
# Starts the six Tributary services from a bin directory against the local
# stack (deploy/local/infra.sh up must have run), waits until every one is
# ready, says how to reach them, and stops them all on Ctrl-C.
#
# usage: deploy/local/run.sh BIN_DIR
# Ports: TRIBUTARY_<SERVICE>_PORT overrides the default of each service.
set -euo pipefail

bin=${1:?usage: run.sh BIN_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
infra="$root/deploy/local/infra.sh"
data=${TRIBUTARY_DATA_DIR:-$root/.data}
logs="$data/services"
mkdir -p "$logs"

eval "$("$infra" env)"
export TRIBUTARY_KAFKA_BROKERS TRIBUTARY_NATS_URL TRIBUTARY_REDIS_ADDR TRIBUTARY_CLICKHOUSE_ADDR

# The local stack is for one developer: ingest takes events without API keys
# and serves the example streams of schemas/streams.
export TRIBUTARY_AUTH_DISABLED=${TRIBUTARY_AUTH_DISABLED:-true}
export TRIBUTARY_STREAMS_DIR=${TRIBUTARY_STREAMS_DIR:-$root/schemas/streams}

declare -A port=([ingest]=8081 [features]=8082 [trainer]=8083 [registry]=8084 [serving]=8085 [monitor]=8086)
services=(ingest features trainer registry serving monitor)
pids=()

stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping services"
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	echo "services stopped; the infrastructure keeps running (make infra-down stops it)"
}
trap stop EXIT
trap 'stop; exit 0' INT TERM

for s in "${services[@]}"; do
	var="TRIBUTARY_${s^^}_PORT"
	p=${!var:-${port[$s]}}
	port[$s]=$p
	# Each service in a session of its own: Ctrl-C reaches only this script,
	# which stops the services with SIGTERM, their graceful shutdown.
	setsid "$bin/$s" -http.addr "127.0.0.1:$p" >"$logs/$s.log" 2>&1 &
	pids+=($!)
done

start=$(date +%s)
deadline=$((start + ${TRIBUTARY_READY_TIMEOUT:-60}))
for s in "${services[@]}"; do
	until curl -fs -o /dev/null "http://127.0.0.1:${port[$s]}/readyz"; do
		if (( $(date +%s) > deadline )); then
			echo "$s is not ready after ${TRIBUTARY_READY_TIMEOUT:-60}s; its readiness says:" >&2
			curl -sS "http://127.0.0.1:${port[$s]}/readyz" >&2 || true
			echo >&2; echo "log: $logs/$s.log" >&2
			tail -n 20 "$logs/$s.log" >&2 || true
			exit 1
		fi
		sleep 0.2
	done
done

echo
echo "all six services are ready in $(( $(date +%s) - start ))s:"
for s in "${services[@]}"; do
	printf '  %-9s http://127.0.0.1:%s   (/readyz /healthz /metrics; log %s)\n' "$s" "${port[$s]}" "$logs/$s.log"
done
cat <<MSG

infrastructure:
  kafka       $TRIBUTARY_KAFKA_BROKERS
  nats        $TRIBUTARY_NATS_URL
  redis       $TRIBUTARY_REDIS_ADDR
  clickhouse  $TRIBUTARY_CLICKHOUSE_ADDR (native)

Press Ctrl-C to stop the services.
MSG
wait -n "${pids[@]}" || true
echo "a service exited; see $logs" >&2
exit 1
