#!/usr/bin/env bash
# Starts the six Tributary services from a bin directory against the local
# stack (deploy/local/infra.sh up must have run), waits until every one is
# ready, applies the example of examples/cards and starts its generator
# (TRIBUTARY_DEMO=false: not), says where to look, and stops them all on
# Ctrl-C.
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

# The example of examples/cards: its stream, feature view and model, and
# the generator streaming into it (TRIBUTARY_DEMO=false: the services only).
demo=${TRIBUTARY_DEMO:-true}
if [[ $demo == true ]]; then
	cli="$bin/tributary"
	export TRIBUTARY_REGISTRY_URL="http://127.0.0.1:${port[registry]}" TRIBUTARY_TRAINER_URL="http://127.0.0.1:${port[trainer]}"
	"$cli" streams apply "$root/examples/cards/stream.json" >"$logs/demo-apply.log" 2>&1 &&
		"$cli" features apply "$root/examples/cards/features.yaml" >>"$logs/demo-apply.log" 2>&1 &&
		"$cli" models apply "$root/examples/cards/model.yaml" >>"$logs/demo-apply.log" 2>&1 || {
		echo "applying examples/cards failed:" >&2; cat "$logs/demo-apply.log" >&2; exit 1
	}
	# The stream is live in ingest within about a second of the apply.
	setsid "$cli" generate -ingest.url "http://127.0.0.1:${port[ingest]}" \
		-serving.url "http://127.0.0.1:${port[serving]}" -model card-fraud \
		-rate "${TRIBUTARY_DEMO_RATE:-20}" -drift-after "${TRIBUTARY_DEMO_DRIFT_AFTER:-15m}" \
		>"$logs/generate.log" 2>&1 &
	pids+=($!)
fi

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
if [[ $demo == true ]]; then
	cat <<MSG

demo (examples/cards): the stream cards, the view card_activity and the model
card-fraud are applied, and tributary generate streams ${TRIBUTARY_DEMO_RATE:-20} card payments/s
into ingest, scores each with serving and sends its fraud label about 2 min
later; drift (bigger amounts, a new merchant category) starts after ${TRIBUTARY_DEMO_DRIFT_AFTER:-15m}.
The first model trains by itself once 2000 labels arrived (about 2-4 min);
drift retrains it into canary. Where to look:
  generator      tail -f $logs/generate.log
  features       curl -s localhost:${port[features]}/v1/features/card_activity/card-00000
  models         $bin/tributary models show card-fraud
  jobs           curl -s 'localhost:${port[trainer]}/v1/jobs?model=card-fraud&limit=5'
  runs           $bin/tributary runs list -model card-fraud
  predictions    clickhouse-client -q "SELECT route, version, count() FROM tributary.prediction_log FINAL WHERE model='card-fraud' GROUP BY route, version"
  drift          clickhouse-client -q "SELECT feature, method, max(value), countIf(drifted=1) FROM tributary.drift_metrics FINAL WHERE model='card-fraud' GROUP BY feature, method"
  predict        curl -s localhost:${port[serving]}/v1/predict/card-fraud -d '{"entities":["card-00000"]}'
MSG
fi
wait -n "${pids[@]}" || true
echo "a service (or the generator) exited; see $logs" >&2
exit 1
