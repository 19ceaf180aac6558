#!/usr/bin/env bash
# The real infrastructure of Tributary on one machine: Apache Kafka (one KRaft
# node), nats-server with JetStream, Redis and ClickHouse, on loopback. What is
# missing is installed (apt, Maven Central, the Go module proxy); data, logs
# and pid files live in one directory. See deploy/local/README.md.
#
# usage: deploy/local/infra.sh up|down|status|env [kafka|nats|redis|clickhouse ...]
#   up      install what is missing, start what is not running, and wait until
#           each server answers a real request (`tributary check`)
#   down    stop the servers that up started; data stays (make clean removes it)
#   status  each server: state, pid, address, resident memory
#   env     `export TRIBUTARY_...=...` lines with the addresses, for eval
#
# Environment (default):
#   TRIBUTARY_DATA_DIR               data, logs, pid files (<repo>/.data)
#   TRIBUTARY_CACHE_DIR              Kafka jars, nats-server binary, shared by
#                                    clones (${XDG_CACHE_HOME:-~/.cache}/tributary)
#   TRIBUTARY_KAFKA_PORT             Kafka broker (9092)
#   TRIBUTARY_KAFKA_CONTROLLER_PORT  Kafka KRaft controller (9093)
#   TRIBUTARY_NATS_PORT              NATS clients (4222)
#   TRIBUTARY_NATS_MONITOR_PORT      NATS HTTP monitoring (8222)
#   TRIBUTARY_REDIS_PORT             Redis (6379)
#   TRIBUTARY_CLICKHOUSE_PORT        ClickHouse native protocol (9000)
#   TRIBUTARY_CLICKHOUSE_HTTP_PORT   ClickHouse HTTP (8123)
#   TRIBUTARY_CLICKHOUSE_ANALYST_PASSWORD  password of the read-only ClickHouse
#                                    user analyst (analyst)
#   TRIBUTARY_KAFKA_JAVA_OPTS        JVM options of the broker (-Xms64m -Xmx512m ...)
#   TRIBUTARY_INFRA_WAIT             how long up waits for the servers (120s)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)

# shellcheck source=versions.env
. "$here/versions.env"

servers=(kafka nats redis clickhouse)
host=127.0.0.1
data=${TRIBUTARY_DATA_DIR:-$root/.data}
cache=${TRIBUTARY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tributary}
[[ $data == /* ]] || data=$PWD/$data
[[ $cache == /* ]] || cache=$PWD/$cache
kafka_port=${TRIBUTARY_KAFKA_PORT:-9092}
kafka_controller_port=${TRIBUTARY_KAFKA_CONTROLLER_PORT:-9093}
nats_port=${TRIBUTARY_NATS_PORT:-4222}
nats_monitor_port=${TRIBUTARY_NATS_MONITOR_PORT:-8222}
redis_port=${TRIBUTARY_REDIS_PORT:-6379}
clickhouse_port=${TRIBUTARY_CLICKHOUSE_PORT:-9000}
clickhouse_http_port=${TRIBUTARY_CLICKHOUSE_HTTP_PORT:-8123}
clickhouse_analyst_password=${TRIBUTARY_CLICKHOUSE_ANALYST_PASSWORD:-analyst}
kafka_java_opts=${TRIBUTARY_KAFKA_JAVA_OPTS:--Xms64m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}
wait_for=${TRIBUTARY_INFRA_WAIT:-120s}
stop_timeout=30 # seconds between SIGTERM and SIGKILL

cli=$data/bin/tributary
kafka_jars=$cache/kafka/$KAFKA_VERSION-$(
	{ cat "$here/kafka/pom.xml"; echo "$KAFKA_VERSION $LOG4J_VERSION $SLF4J_VERSION $MAVEN_DEPENDENCY_PLUGIN_VERSION"; } |
		sha256sum | cut -c1-12
)
nats_server=$cache/bin/nats-server-$NATS_SERVER_VERSION

# ---------------------------------------------------------------- helpers

die() {
	printf 'infra.sh: %s\n' "$*" >&2
	exit 1
}

# say NAME MESSAGE: one line about a server, aligned like `tributary check`.
say() {
	printf '%-11s %s\n' "$1" "$2"
}

# now: microseconds since the epoch.
now() {
	echo "${EPOCHREALTIME//[!0-9]/}"
}

# since START: the time since START (from now) for people: 850ms, 12.3s.
since() {
	local us=$(($(now) - $1))
	if ((us < 1000000)); then
		echo "$((us / 1000))ms"
	else
		echo "$((us / 1000000)).$((us % 1000000 / 100000))s"
	fi
}

# listening PORT: whether something accepts connections on host:PORT.
listening() {
	(exec 3<>"/dev/tcp/$host/$1") 2>/dev/null
}

# alive PID: whether the process exists and is not a zombie.
alive() {
	local stat
	[[ -r /proc/$1/stat ]] || return 1
	read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# rss_kib PID: resident memory of the process in KiB.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

mib() {
	awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'
}

# tail_log FILE: the end of a log, indented, for an error report.
tail_log() {
	[[ -s $1 ]] || return 0
	echo "  --- last lines of $1:"
	tail -n 15 "$1" | sed 's/^/  | /'
}

# The main port of each server (whose answer decides whether a server is
# running), its other ports, the address clients use and the check flags.
main_port() {
	local v=${1}_port
	echo "${!v}"
}

# other_ports NAME: the server's other ports, as VARIABLE=port words.
other_ports() {
	case $1 in
	kafka) echo "TRIBUTARY_KAFKA_CONTROLLER_PORT=$kafka_controller_port" ;;
	nats) echo "TRIBUTARY_NATS_MONITOR_PORT=$nats_monitor_port" ;;
	clickhouse) echo "TRIBUTARY_CLICKHOUSE_HTTP_PORT=$clickhouse_http_port" ;;
	*) ;;
	esac
}

address() {
	case $1 in
	nats) echo "nats://$host:$nats_port" ;;
	*) echo "$host:$(main_port "$1")" ;;
	esac
}

check_flags() {
	case $1 in
	kafka) echo "-kafka -kafka.brokers $(address kafka)" ;;
	nats) echo "-nats -nats.url $(address nats)" ;;
	redis) echo "-redis -redis.addr $(address redis)" ;;
	clickhouse) echo "-clickhouse -clickhouse.addr $(address clickhouse)" ;;
	esac
}

# What the command line of each server contains; guards against a pid file
# whose process is gone and whose pid was reused.
cmdline_pattern() {
	case $1 in
	kafka) echo kafka.Kafka ;;
	nats) echo nats-server ;;
	redis) echo redis-server ;;
	clickhouse) echo clickhouse ;;
	esac
}

# pidfile_pid NAME: the pid in the server's pid file (which the server may
# have rewritten, without a final newline).
pidfile_pid() {
	local pid
	pid=$(cat "$data/$1/pid" 2>/dev/null) || return 1
	pid=${pid//[[:space:]]/}
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	echo "$pid"
}

# our_pid NAME: the pid of the server that up started, if it still runs.
our_pid() {
	local pid
	pid=$(pidfile_pid "$1") && alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(cmdline_pattern "$1")" || return 1
	echo "$pid"
}

# listener_pid PORT: the pid listening on PORT, when ss can tell.
listener_pid() {
	command -v ss >/dev/null || return 0
	ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2
}

validate_config() {
	local v
	for v in kafka_port kafka_controller_port nats_port nats_monitor_port redis_port clickhouse_port clickhouse_http_port; do
		if [[ ! ${!v} =~ ^[0-9]+$ ]] || ((${!v} < 1 || ${!v} > 65535)); then
			die "TRIBUTARY_${v^^}=${!v}: not a port number"
		fi
	done
	[[ $wait_for =~ ^[0-9]+(ms|s|m)$ ]] || die "TRIBUTARY_INFRA_WAIT=$wait_for: want a duration like 90s or 2m"
}

# selected ARGS...: the servers named on the command line, or all of them.
selected=()
select_servers() {
	local s ok known
	selected=()
	for s in "$@"; do
		ok=
		for known in "${servers[@]}"; do [[ $s == "$known" ]] && ok=1; done
		[[ -n $ok ]] || die "unknown server '$s' (want ${servers[*]})"
		selected+=("$s")
	done
	((${#selected[@]} > 0)) || selected=("${servers[@]}")
}

lock() {
	mkdir -p "$data/infra"
	exec 9>>"$data/infra/lock"
	if ! flock -n 9; then
		echo "infra: waiting for another infra.sh on $data"
		flock 9
	fi
}

# launch NAME LOG COMMAND...: starts a server in its own session, so that it
# outlives this script and a Ctrl-C in the terminal, with no file descriptor
# of ours (the lock, a caller's pipe) held open; records its pid (also in
# $launched). LOG gets what the server prints itself (early errors), anew at
# each start.
launched=
launch() {
	local name=$1 log=$2
	shift 2
	(
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			if ((fd > 2)); then
				{ exec {fd}>&-; } 2>/dev/null || true
			fi
		done
		exec setsid "$@"
	) </dev/null >"$log" 2>&1 &
	launched=$!
	echo "$launched" >"$data/$name/pid"
	address "$name" >"$data/$name/address"
}

# ----------------------------------------------------------------- install

apt_updated=
installed=()

# apt_install PACKAGE...: installs with apt-get (through sudo unless root);
# apt-get update runs at most once per run.
apt_install() {
	local sudo=() start
	if ((EUID != 0)); then
		command -v sudo >/dev/null ||
			die "$* must be installed, which needs root: run as root, install sudo, or install them yourself"
		sudo=(sudo)
	fi
	command -v apt-get >/dev/null || die "$* must be installed and there is no apt-get: install them yourself"
	start=$(now)
	echo "infra: installing $* with apt-get (log: $data/infra/apt.log)"
	if [[ -z $apt_updated ]]; then
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$data/infra/apt.log" 2>&1 ||
			{ tail_log "$data/infra/apt.log"; die "apt-get update failed"; }
		apt_updated=1
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
		>>"$data/infra/apt.log" 2>&1 ||
		{ tail_log "$data/infra/apt.log"; die "apt-get install $* failed"; }
	echo "infra: installed $* in $(since "$start")"
	installed+=("apt-get installed $*")
}

# stop_packaged_service NAME: a package that was just installed may have
# started its system service on our port; we run our own instance instead.
stop_packaged_service() {
	local svc=$1 sudo=()
	((EUID == 0)) || sudo=(sudo)
	if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
		if systemctl is-enabled --quiet "$svc" 2>/dev/null || systemctl is-active --quiet "$svc" 2>/dev/null; then
			"${sudo[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true
			echo "infra: disabled the $svc system service that apt-get started (infra.sh runs its own)"
		fi
	elif [[ -x /etc/init.d/$svc ]] && command -v service >/dev/null; then
		"${sudo[@]}" service "$svc" stop >/dev/null 2>&1 || true
	fi
}

# java_major JAVA: the feature release of a java binary (8 for 1.8.0_x).
java_major() {
	local v
	v=$("$1" -version 2>&1 | awk -F'"' '/version/ { print $2; exit }')
	[[ $v == 1.* ]] && v=${v#1.}
	echo "${v%%[.-]*}"
}

# find_java: a java binary of release JAVA_MIN_VERSION or newer, if any.
find_java() {
	local j major
	for j in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" \
		/usr/lib/jvm/java-"$JAVA_MIN_VERSION"-openjdk-*/bin/java /usr/lib/jvm/*/bin/java; do
		[[ -n $j && -x $j ]] || continue
		major=$(java_major "$j")
		if [[ $major =~ ^[0-9]+$ ]] && ((major >= JAVA_MIN_VERSION)); then
			echo "$j"
			return 0
		fi
	done
	return 1
}

# find_binary NAME...: the first of the names found on PATH or in the sbin
# directories (not on a normal user's PATH on Debian).
find_binary() {
	local n d
	for n in "$@"; do
		command -v "$n" 2>/dev/null && return 0
		for d in /usr/sbin /usr/bin /usr/local/bin /usr/local/sbin; do
			[[ -x $d/$n ]] && { echo "$d/$n"; return 0; }
		done
	done
	return 1
}

# clickhouse_server_cmd: how to run the server: Debian's clickhouse-server,
# or the single `clickhouse` binary of the upstream packages.
clickhouse_server_cmd() {
	local b
	if b=$(find_binary clickhouse-server); then
		echo "$b"
	elif b=$(find_binary clickhouse); then
		echo "$b server"
	else
		return 1
	fi
}

# resolve_kafka_jars: Kafka and its dependencies from Maven Central into the
# cache (a temporary directory renamed when complete).
resolve_kafka_jars() {
	local tmp=$kafka_jars.tmp.$$
	mkdir -p "$(dirname "$kafka_jars")"
	rm -rf "$tmp"
	mvn -B -q -f "$here/kafka/pom.xml" dependency:copy-dependencies \
		-DoutputDirectory="$tmp" -DincludeScope=runtime \
		-Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" -Dslf4j.version="$SLF4J_VERSION" \
		-Dmaven-dependency-plugin.version="$MAVEN_DEPENDENCY_PLUGIN_VERSION" || return 1
	[[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || { echo "no kafka_2.13-$KAFKA_VERSION.jar in $tmp"; return 1; }
	# Another clone sharing the cache may have finished first; its jars are
	# the same, and a broker may already run from them.
	if [[ -d $kafka_jars ]]; then
		rm -rf "$tmp"
	else
		mv "$tmp" "$kafka_jars"
	fi
}

# build_nats_server: nats-server from the Go module proxy into the cache.
build_nats_server() {
	local tmp=$cache/bin/.tmp.$$
	mkdir -p "$tmp"
	(cd "$tmp" && GOWORK=off GOFLAGS='' CGO_ENABLED=0 GOBIN="$tmp" \
		go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION") || return 1
	mv "$tmp/nats-server" "$nats_server"
	rmdir "$tmp"
}

# build_cli: the tributary cli, which makes the readiness checks. The go build
# cache makes a rebuild cheap, but linking still takes seconds on a busy
# machine: skip it while no source is newer than the binary.
build_cli() {
	mkdir -p "$data/bin"
	if [[ -x $cli ]] && [[ -z $(cd "$root" && find cli libs schemas go.work go.work.sum -newer "$cli" -print -quit 2>/dev/null) ]]; then
		return 0
	fi
	(cd "$root" && go build -o "$cli.tmp" ./cli/cmd/tributary) && mv "$cli.tmp" "$cli" &&
		touch "$data/infra/cli.built"
}

# job NAME COMMAND...: runs COMMAND in the background with its output in
# $data/infra/NAME.log and its duration in NAME.took; the pid lands in
# job_pids[NAME].
declare -A job_pids=()
job() {
	local name=$1
	shift
	(
		start=$(now)
		rc=0
		"$@" >"$data/infra/$name.log" 2>&1 || rc=$?
		since "$start" >"$data/infra/$name.took"
		exit "$rc"
	) &
	job_pids[$name]=$!
}

# finish_job NAME WHAT: waits for a job; on success prints "WHAT in T" when
# WHAT is set, on failure the end of its log.
finish_job() {
	local name=$1 what=$2
	if ! wait "${job_pids[$name]}"; then
		tail_log "$data/infra/$name.log"
		die "$name failed (log: $data/infra/$name.log)"
	fi
	if [[ -n $what ]]; then
		echo "infra: $what in $(<"$data/infra/$name.took")"
		installed+=("$what")
	fi
}

# prepare SERVER...: installs what the servers to start need, builds the cli.
java=
prepare() {
	local s pkgs=() need_jars='' need_nats=''
	for s in "$@"; do
		case $s in
		kafka)
			java=$(find_java) || pkgs+=("openjdk-$JAVA_MIN_VERSION-jre-headless")
			if [[ ! -f $kafka_jars/kafka_2.13-$KAFKA_VERSION.jar ]]; then
				need_jars=1
				command -v mvn >/dev/null || pkgs+=(maven)
			fi
			;;
		nats) [[ -x $nats_server ]] || need_nats=1 ;;
		redis) find_binary redis-server >/dev/null || pkgs+=(redis-server) ;;
		clickhouse) clickhouse_server_cmd >/dev/null || pkgs+=(clickhouse-server clickhouse-client) ;;
		esac
	done
	command -v go >/dev/null ||
		die "go is not on PATH: install Go (see go.work for the version) from https://go.dev/dl/; it builds the tributary cli and nats-server"

	if ((${#pkgs[@]} > 0)); then
		apt_install "${pkgs[@]}"
		for s in "${pkgs[@]}"; do
			case $s in
			redis-server) stop_packaged_service redis-server ;;
			clickhouse-server) stop_packaged_service clickhouse-server ;;
			esac
		done
		if [[ " $* " == *" kafka "* && -z $java ]]; then
			java=$(find_java) || die "no java $JAVA_MIN_VERSION or newer after installing openjdk-$JAVA_MIN_VERSION-jre-headless"
		fi
	fi

	# The downloads and builds are independent: run them at once.
	job cli build_cli
	if [[ -n $need_jars ]]; then
		echo "infra: resolving the Kafka $KAFKA_VERSION jars from Maven Central into $kafka_jars"
		job kafka-jars resolve_kafka_jars
	fi
	if [[ -n $need_nats ]]; then
		echo "infra: building nats-server $NATS_SERVER_VERSION with go install (about a minute, once)"
		job nats-server build_nats_server
	fi
	[[ -z $need_jars ]] || finish_job kafka-jars "installed kafka jars"
	[[ -z $need_nats ]] || finish_job nats-server "built nats-server $NATS_SERVER_VERSION"
	finish_job cli ""
	if [[ -f $data/infra/cli.built ]]; then
		echo "infra: built the tributary cli in $(<"$data/infra/cli.took")"
		rm -f "$data/infra/cli.built"
	fi
}

# ------------------------------------------------------------------- start

start_kafka() {
	local dir=$data/kafka props=$data/kafka/server.properties java_opts cluster_id
	mkdir -p "$dir/data" "$dir/log"
	cat >"$props" <<EOF
# Generated by deploy/local/infra.sh at every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$kafka_controller_port
listeners=PLAINTEXT://$host:$kafka_port,CONTROLLER://$host:$kafka_controller_port
advertised.listeners=PLAINTEXT://$host:$kafka_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
	read -ra java_opts <<<"$kafka_java_opts"
	java_opts+=("-Dlog4j2.configurationFile=$here/kafka/log4j2.xml" "-Dkafka.logs.dir=$dir/log" -cp "$kafka_jars/*")
	if [[ ! -f $dir/data/meta.properties ]]; then
		if [[ ! -s $dir/cluster-id ]]; then
			"$java" "${java_opts[@]}" kafka.tools.StorageTool random-uuid >"$dir/cluster-id" 2>>"$dir/log/format.log" ||
				die "kafka: StorageTool random-uuid failed (log: $dir/log/format.log)"
		fi
		read -r cluster_id <"$dir/cluster-id"
		"$java" "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$props" --ignore-formatted \
			>>"$dir/log/format.log" 2>&1 ||
			{ tail_log "$dir/log/format.log"; die "kafka: formatting the storage failed"; }
		say kafka "formatted the storage in $dir/data (cluster id $cluster_id)"
	fi
	launch kafka "$dir/log/stdout.log" "$java" "${java_opts[@]}" kafka.Kafka "$props"
}

start_nats() {
	local dir=$data/nats
	mkdir -p "$dir/data" "$dir/log"
	cat >"$dir/nats-server.conf" <<EOF
# Generated by deploy/local/infra.sh at every start; edits are overwritten.
server_name: tributary-local
listen: "$host:$nats_port"
http: "$host:$nats_monitor_port"
pid_file: "$dir/pid"
log_file: "$dir/log/nats-server.log"
jetstream {
  store_dir: "$dir/data"
  # Sync every write to disk before acknowledging it: the default (every two
  # minutes) can lose acknowledged writes on an OS crash (DESIGN.md).
  sync_interval: always
}
EOF
	launch nats "$dir/log/stdout.log" "$nats_server" -c "$dir/nats-server.conf"
}

start_redis() {
	local dir=$data/redis bin
	mkdir -p "$dir/data" "$dir/log"
	bin=$(find_binary redis-server) || die "redis-server is not installed"
	launch redis "$dir/log/stdout.log" "$bin" --bind "$host" --port "$redis_port" --daemonize no \
		--dir "$dir/data" --pidfile "$dir/pid" --logfile "$dir/log/redis.log"
}

# ClickHouse runs from a config generated into the data dir, so that nothing
# of /etc/clickhouse-server or /var/lib/clickhouse is used and it runs as the
# user who runs this script (root included) with the files that user owns.
# Only keys that ClickHouse 18.16 and current releases both read; no
# interserver port (no replication here), so it cannot clash.
start_clickhouse() {
	local dir=$data/clickhouse cmd
	mkdir -p "$dir/etc" "$dir/data/tmp" "$dir/data/user_files" "$dir/data/format_schemas" "$dir/log"
	cat >"$dir/etc/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by deploy/local/infra.sh at every start; edits are overwritten. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>$dir/log/clickhouse-server.log</log>
    <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <listen_host>$host</listen_host>
  <tcp_port>$clickhouse_port</tcp_port>
  <http_port>$clickhouse_http_port</http_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/data/tmp/</tmp_path>
  <user_files_path>$dir/data/user_files/</user_files_path>
  <format_schema_path>$dir/data/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
EOF
	cat >"$dir/etc/users.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by deploy/local/infra.sh: user default, no password, loopback only;
     user analyst (password \$TRIBUTARY_CLICKHOUSE_ANALYST_PASSWORD), read-only, database tributary. -->
<yandex>
  <profiles>
    <default/>
    <readonly>
      <readonly>1</readonly>
    </readonly>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks>
        <ip>127.0.0.1</ip>
        <ip>::1</ip>
      </networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
    <analyst>
      <password>$clickhouse_analyst_password</password>
      <networks>
        <ip>127.0.0.1</ip>
        <ip>::1</ip>
      </networks>
      <profile>readonly</profile>
      <quota>default</quota>
      <allow_databases>
        <database>tributary</database>
      </allow_databases>
    </analyst>
  </users>
  <quotas>
    <default/>
  </quotas>
</yandex>
EOF
	cmd=$(clickhouse_server_cmd) || die "clickhouse-server is not installed"
	# shellcheck disable=SC2086 # cmd is "clickhouse-server" or "clickhouse server"
	launch clickhouse "$dir/log/stdout.log" $cmd --config-file="$dir/etc/config.xml"
}

# show_logs SERVER: the end of the logs that say why a server did not start.
show_logs() {
	local dir=$data/$1/log
	tail_log "$dir/stdout.log"
	case $1 in
	kafka) tail_log "$dir/server.log" ;;
	nats) tail_log "$dir/nats-server.log" ;;
	redis) tail_log "$dir/redis.log" ;;
	clickhouse) tail_log "$dir/clickhouse-server.err.log" ;;
	esac
}

# ------------------------------------------------------------- subcommands

# wait_ready SERVER...: one `tributary check` for all of them (each line shows
# the time since the check began), stopped early when a server we started
# exits.
wait_ready() {
	local flags=() s pid check_pid dead=
	for s in "$@"; do
		# shellcheck disable=SC2207 # the flags are words without spaces
		flags+=($(check_flags "$s"))
	done
	"$cli" check -wait "$wait_for" "${flags[@]}" &
	check_pid=$!
	while alive "$check_pid"; do
		for s in "$@"; do
			pid=$(pidfile_pid "$s") || continue
			if ! alive "$pid"; then
				dead=$s
				break 2
			fi
		done
		sleep 0.1
	done
	if [[ -n $dead ]]; then
		kill "$check_pid" 2>/dev/null || true
		wait "$check_pid" 2>/dev/null || true
		rm -f "$data/$dead/pid"
		say "$dead" "exited while starting"
		show_logs "$dead"
		die "$dead did not start; the servers started are still running (down stops them)"
	fi
	if ! wait "$check_pid"; then
		for s in "$@"; do
			[[ -f $data/$s/pid ]] && show_logs "$s"
		done
		die "not every server became ready within $wait_for; the ones started are still running (down stops them)"
	fi
}

cmd_up() {
	local start s pid port was to_start=() to_probe=() running=()
	start=$(now)
	validate_config
	lock
	echo "infra: data in $data, downloads in $cache"
	for s in "${selected[@]}"; do
		mkdir -p "$data/$s"
		rm -f "$data/$s/external"
		if pid=$(our_pid "$s"); then
			was=$(cat "$data/$s/address" 2>/dev/null || true)
			if [[ $was != "$(address "$s")" ]]; then
				die "$s runs (pid $pid) at ${was:-an unknown address}, not at the configured $(address "$s"): run down first"
			fi
			say "$s" "already running (pid $pid, $(address "$s"))"
			running+=("$s")
			continue
		fi
		rm -f "$data/$s/pid"
		if listening "$(main_port "$s")"; then
			to_probe+=("$s")
			continue
		fi
		for port in $(other_ports "$s"); do
			if listening "${port#*=}"; then
				die "$s: port ${port#*=} is taken by another process (set ${port%=*} to use another)"
			fi
		done
		to_start+=("$s")
	done

	prepare "${to_start[@]}"

	# A server that someone else started and that answers is used as it is.
	for s in "${to_probe[@]}"; do
		# shellcheck disable=SC2046 # the flags are words without spaces
		if "$cli" check -wait 15s $(check_flags "$s"); then
			address "$s" >"$data/$s/external"
			say "$s" "found running at $(address "$s"), not started by infra.sh: using it (down leaves it alone)"
		else
			die "$s: port $(main_port "$s") is in use, but not by a $s that answers (set TRIBUTARY_${s^^}_PORT to use another)"
		fi
	done

	for s in "${to_start[@]}"; do
		[[ $s == kafka ]] && continue # last: formatting its storage takes a JVM start
		"start_$s"
		say "$s" "started (pid $launched, $(address "$s"))"
	done
	if [[ " ${to_start[*]} " == *" kafka "* ]]; then
		start_kafka
		say kafka "started (pid $launched, $(address kafka))"
	fi

	if ((${#to_start[@]} + ${#running[@]} > 0)); then
		wait_ready "${to_start[@]}" "${running[@]}"
	fi

	if ((${#installed[@]} > 0)); then
		local what
		what=$(printf '%s, ' "${installed[@]}")
		echo "infra up: cold start in $(since "$start") (${what%, }; started ${to_start[*]})"
	elif ((${#to_start[@]} > 0)); then
		echo "infra up: warm start in $(since "$start") (nothing to install; started ${to_start[*]})"
	else
		echo "infra up: nothing to start, all running${to_probe[*]:+ (external: ${to_probe[*]})}; checked in $(since "$start")"
	fi
}

# cmd_down: SIGTERM to every server that up started, SIGKILL to those still
# running after the deadline.
cmd_down() {
	local s pid pids=() names=() deadline i
	lock
	for s in "${selected[@]}"; do
		if [[ -f $data/$s/external ]]; then
			say "$s" "external ($(<"$data/$s/external")), not started by infra.sh: left running"
			rm -f "$data/$s/external"
		fi
		if pid=$(our_pid "$s"); then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
			names+=("$s")
		else
			rm -f "$data/$s/pid"
		fi
	done
	deadline=$(($(now) + stop_timeout * 1000000))
	for i in "${!pids[@]}"; do
		while alive "${pids[$i]}" && (($(now) < deadline)); do sleep 0.1; done
		if alive "${pids[$i]}"; then
			kill -KILL "${pids[$i]}" 2>/dev/null || true
			say "${names[$i]}" "killed (pid ${pids[$i]}): it did not stop within ${stop_timeout}s of SIGTERM"
		else
			say "${names[$i]}" "stopped (pid ${pids[$i]})"
		fi
		rm -f "$data/${names[$i]}/pid"
	done
	((${#pids[@]} > 0)) || echo "infra down: nothing of ours was running"
}

cmd_status() {
	local s pid state rss total=0 extra
	validate_config
	printf '%-11s %-9s %-8s %-34s %s\n' server state pid address memory
	for s in "${selected[@]}"; do
		extra=
		if pid=$(our_pid "$s"); then
			state=ours
			listening "$(main_port "$s")" || extra=" (not listening yet)"
		elif [[ -f $data/$s/external ]] && listening "$(main_port "$s")"; then
			state=external
			pid=$(listener_pid "$(main_port "$s")")
		elif listening "$(main_port "$s")"; then
			state=other
			pid=$(listener_pid "$(main_port "$s")")
		else
			state=stopped
			pid=
		fi
		rss=
		[[ -n $pid ]] && rss=$(rss_kib "$pid")
		[[ -n $rss ]] && total=$((total + rss))
		printf '%-11s %-9s %-8s %-34s %s\n' "$s" "$state" "${pid:--}" "$(address "$s")$extra" \
			"$([[ -n $rss ]] && mib "$rss" || echo -)"
	done
	printf '%-11s %-9s %-8s %-34s %s\n' total "" "" "" "$(mib "$total")"
}

cmd_env() {
	validate_config
	echo "export TRIBUTARY_KAFKA_BROKERS=$(address kafka)"
	echo "export TRIBUTARY_NATS_URL=$(address nats)"
	echo "export TRIBUTARY_REDIS_ADDR=$(address redis)"
	echo "export TRIBUTARY_CLICKHOUSE_ADDR=$(address clickhouse)"
}

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

main() {
	local cmd=${1:-}
	shift || true
	case $cmd in
	up | down | status)
		select_servers "$@"
		"cmd_$cmd"
		;;
	env) cmd_env ;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
