#!/usr/bin/env bash
# `make up` / `make down`: infrastructure (infra.sh), migrations, topics, then the four services,
# each in the background with a pid file under .local/run, until every /readyz answers 200.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
local_dir="$root/.local"
run_dir="$local_dir/run"
log_dir="$local_dir/logs"
bin="$root/.venv/bin"
services=("intake:8001" "risk:8002" "workflow:8003" "notify:8004")
mkdir -p "$run_dir" "$log_dir"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_ready() { # name url timeout
  local deadline=$(( $(date +%s) + $3 ))
  until curl -fs -o /dev/null "$2/readyz"; do
    if [ "$(date +%s)" -gt "$deadline" ]; then
      echo "stack: $1 not ready at $2/readyz after $3 s; last log lines:" >&2
      tail -n 30 "$log_dir/$1.log" >&2 || true
      curl -sS "$2/readyz" >&2 || true
      return 1
    fi
    sleep 0.3
  done
}

write_env() {
  {
    bash "$root/deploy/local/infra.sh" env
    for spec in "${services[@]}"; do
      name=${spec%%:*}; port=${spec##*:}
      echo "$(tr '[:lower:]' '[:upper:]' <<<"$name")_URL=http://127.0.0.1:$port"
    done
    echo "SAFETYNET_CLI=$bin/safetynet"
    echo "SAFETYNET_POLICY_FILE=${SAFETYNET_POLICY_FILE:-$root/policy/default.yaml}"
  } > "$local_dir/stack.env.tmp"
  mv "$local_dir/stack.env.tmp" "$local_dir/stack.env"
}

up() {
  local start; start=$(date +%s)
  bash "$root/deploy/local/infra.sh" up
  write_env
  set -a; . "$local_dir/stack.env"; set +a
  "$bin/safetynet" migrate >/dev/null
  "$bin/safetynet" topics create >/dev/null
  for spec in "${services[@]}"; do
    name=${spec%%:*}; port=${spec##*:}
    pidfile="$run_dir/$name.pid"
    if alive "$pidfile"; then continue; fi
    setsid nohup "$bin/uvicorn" --factory "safetynet_${name}.main:create_app" --host 127.0.0.1 --port "$port" \
      --no-access-log --timeout-graceful-shutdown 10 >>"$log_dir/$name.log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
  done
  for spec in "${services[@]}"; do
    name=${spec%%:*}; port=${spec##*:}
    wait_ready "$name" "http://127.0.0.1:$port" 90
  done
  echo "SafetyNet is up in $(( $(date +%s) - start )) s:"
  grep -E '_URL=|KAFKA_BOOTSTRAP|SAFETYNET_CLI' "$local_dir/stack.env" | sed 's/^/  /'
  echo "  (all of it in $local_dir/stack.env; logs in $log_dir)"
}

down() {
  for spec in "${services[@]}"; do
    name=${spec%%:*}; pidfile="$run_dir/$name.pid"
    if alive "$pidfile"; then
      pid=$(cat "$pidfile"); kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
  if [ -x "$root/deploy/local/infra.sh" ] || [ -f "$root/deploy/local/infra.sh" ]; then
    bash "$root/deploy/local/infra.sh" down
  fi
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  env) write_env; cat "$local_dir/stack.env" ;;
  *) echo "usage: stack.sh up|down|env" >&2; exit 2 ;;
esac
