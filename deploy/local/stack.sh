#!/usr/bin/env bash
# `make up` / `make down`: infrastructure (infra.sh), migrations, topics, then the four services,
# each in the background with a pid file under .local/run, until every /readyz answers 200.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# Overrides for a second, independent stack (the fault suite runs one): SAFETYNET_LOCAL_DIR (state,
# pid files, logs, stack.env; default .local), SAFETYNET_{INTAKE,RISK,WORKFLOW,NOTIFY}_PORT, plus
# infra.sh's port overrides. SAFETYNET_STACK_SPLIT=1 also runs intake's outbox relay and the workflow
# Temporal worker as their own processes (pid files relay.pid, workflow-worker.pid).
# REPLICAS=N (default 1) runs N processes of each service (and of each split-out process): replica k
# listens on the service's port, shared through SO_REUSEPORT (safetynet_core.replica), and on
# port + k * SAFETYNET_REPLICA_PORT_STEP (default 100) of its own; pid files <name>-<k>.pid. The replicas
# share the consumer groups and the Temporal task queue. Change REPLICAS only after `make down`.
local_dir="${SAFETYNET_LOCAL_DIR:-$root/.local}"
export SAFETYNET_LOCAL_DIR="$local_dir"
run_dir="$local_dir/run"
log_dir="$local_dir/logs"
bin="$root/.venv/bin"
services=("intake:${SAFETYNET_INTAKE_PORT:-8001}" "risk:${SAFETYNET_RISK_PORT:-8002}"
  "workflow:${SAFETYNET_WORKFLOW_PORT:-8003}" "notify:${SAFETYNET_NOTIFY_PORT:-8004}")
split="${SAFETYNET_STACK_SPLIT:-0}"
# name:module of the processes split out of the services in split mode
workers=("relay:safetynet_intake.relay" "workflow-worker:safetynet_workflow.worker")
replicas="${REPLICAS:-1}"
replica_step="${SAFETYNET_REPLICA_PORT_STEP:-100}"
[[ "$replicas" =~ ^[1-9][0-9]*$ ]] || { echo "stack: REPLICAS must be a positive integer" >&2; exit 2; }
mkdir -p "$run_dir" "$log_dir"

# The processes of one service: "instance:own-port" per replica; one replica keeps today's names and port.
instances() { # name port
  if [ "$replicas" = 1 ]; then echo "$1:$2"; return; fi
  for k in $(seq 1 "$replicas"); do echo "$1-$k:$(( $2 + k * replica_step ))"; done
}

# Alive and not a zombie (a process killed with -9 may linger unreaped for a moment).
alive() {
  local st
  [ -f "$1" ] || return 1
  st=$(ps -o stat= -p "$(cat "$1")" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

stop_pid() { # pidfile
  if alive "$1"; then
    pid=$(cat "$1"); kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$1" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

# Secrets, generated once per state dir (make clean starts over) and never taken from the repository:
# secrets.env (mode 600) holds the ID-hash pepper, the ID-number sealing key (intake's alone) and the paths
# of the token key pair under secrets/. The workflow web service alone gets the private key; every other
# process gets the public key.
secrets_file="$local_dir/secrets.env"
ensure_secrets() {
  local keyfile="$local_dir/secrets/jwt-signing.pem"
  (umask 077; mkdir -p "$local_dir/secrets"; touch "$secrets_file")
  chmod 600 "$secrets_file"
  [ -s "$keyfile" ] || "$bin/safetynet" keys generate "$keyfile" >/dev/null
  secret() { # NAME value: kept when already there
    grep -q "^$1=" "$secrets_file" || echo "$1=$2" >>"$secrets_file"
  }
  secret SAFETYNET_ID_HASH_PEPPER "$("$bin/python" -c 'import secrets; print(secrets.token_hex(32))')"
  secret SAFETYNET_ID_SEALING_KEY "$("$bin/python" -c 'import secrets; print(secrets.token_hex(32))')"
  secret SAFETYNET_JWT_PRIVATE_KEY_FILE "$keyfile"
  secret SAFETYNET_JWT_PUBLIC_KEY_FILES "${keyfile%.pem}.pub.pem"
}

# KEY=value lines of secrets.env a process gets: the token private key for the workflow web service only,
# the ID-number sealing key for intake only, the rest for everyone.
secrets_for() { # name
  local own=()
  [ "$1" = workflow ] || own+=(-e '^SAFETYNET_JWT_PRIVATE_KEY_FILE=')
  case "$1" in intake | relay) ;; *) own+=(-e '^SAFETYNET_ID_SEALING_KEY=') ;; esac  # the relay is intake's own
  grep -v "${own[@]}" "$secrets_file" || true
}

# The workflow service and its worker post sweep findings and approved registry corrections to intake
# like a department system: one rural_revitalization client, created once per state dir (make clean
# starts over).
workflow_intake_key() {
  local keyfile="$local_dir/workflow-intake.env" created
  [ -s "$keyfile" ] && return 0
  created=$("$bin/safetynet" clients create --department rural_revitalization --name "workflow service")
  (umask 077; "$bin/python" -c '
import json, sys
key = json.loads(sys.argv[1])["api_key"]
print(f"SAFETYNET_INTAKE_URL={sys.argv[2]}")
for var in ("SAFETYNET_INTAKE_GRID_API_KEY", "SAFETYNET_INTAKE_REGISTRY_API_KEY"):
    print(f"{var}={key}")
' "$created" "$INTAKE_URL" >"$keyfile.tmp") && mv "$keyfile.tmp" "$keyfile"
}

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
      if [ "$replicas" != 1 ]; then
        echo "$(tr '[:lower:]' '[:upper:]' <<<"$name")_REPLICA_URLS=$(instances "$name" "$port" |
          sed 's/.*:/http:\/\/127.0.0.1:/' | paste -sd, -)"
      fi
    done
    echo "SAFETYNET_REPLICAS=$replicas"
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
  workflow_intake_key
  ensure_secrets
  # Every service checks case-worker tokens with workflow (introspection); notify may deliver to loopback
  # receivers on this development machine.
  local auth_url="http://127.0.0.1:${services[2]##*:}"
  # X-Forwarded-Proto/-For are trusted from a TLS proxy at these addresses only (on this machine: loopback),
  # so cookies are Secure behind it and login throttling counts the real client address.
  local forwarded_allow_ips="${SAFETYNET_FORWARDED_ALLOW_IPS:-127.0.0.1}"
  local extra=() instance own
  for spec in "${services[@]}"; do
    name=${spec%%:*}; port=${spec##*:}
    mapfile -t extra < <(secrets_for "$name")
    extra+=("SAFETYNET_ENV=production" "SAFETYNET_AUTH_URL=$auth_url")
    if [ "$name" = workflow ]; then mapfile -t -O "${#extra[@]}" extra <"$local_dir/workflow-intake.env"; fi
    if [ "$name" = notify ]; then extra+=("NOTIFY_ALLOWED_NETWORKS=${NOTIFY_ALLOWED_NETWORKS:-127.0.0.0/8}"); fi
    if [ "$split" = 1 ]; then
      case "$name" in
        intake) extra+=(SAFETYNET_INTAKE_RUN_RELAY=false) ;;
        workflow) extra+=(SAFETYNET_RUN_WORKER=false) ;;
      esac
    fi
    for entry in $(instances "$name" "$port"); do
      instance=${entry%%:*}; own=${entry##*:}
      pidfile="$run_dir/$instance.pid"
      if alive "$pidfile"; then continue; fi
      if [ "$replicas" = 1 ]; then
        serve=("$bin/uvicorn" --factory "safetynet_${name}.main:create_app" --host 127.0.0.1 --port "$port"
          --proxy-headers --forwarded-allow-ips "$forwarded_allow_ips"
          --no-access-log --timeout-graceful-shutdown 10)
      else
        serve=("$bin/python" -m safetynet_core.replica "safetynet_${name}.main:create_app" --shared-port "$port"
          --port "$own" --forwarded-allow-ips "$forwarded_allow_ips")
      fi
      env "${extra[@]}" SAFETYNET_PUBLIC_BASE_URL="${SAFETYNET_PUBLIC_BASE_URL:-http://127.0.0.1:${services[2]##*:}}" \
        setsid nohup "${serve[@]}" >>"$log_dir/$instance.log" 2>&1 < /dev/null &
      echo $! > "$pidfile"
    done
  done
  if [ "$split" = 1 ]; then
    for spec in "${workers[@]}"; do
      name=${spec%%:*}
      mapfile -t extra < <(secrets_for "$name")
      extra+=("SAFETYNET_ENV=production" "SAFETYNET_AUTH_URL=$auth_url")
      if [ "$name" = workflow-worker ]; then mapfile -t -O "${#extra[@]}" extra <"$local_dir/workflow-intake.env"; fi
      for entry in $(instances "$name" 0); do
        instance=${entry%%:*}; pidfile="$run_dir/$instance.pid"
        if alive "$pidfile"; then continue; fi
        env "${extra[@]}" setsid nohup "$bin/python" -m "${spec##*:}" >>"$log_dir/$instance.log" 2>&1 < /dev/null &
        echo $! > "$pidfile"
      done
    done
  fi
  for spec in "${services[@]}"; do
    name=${spec%%:*}; port=${spec##*:}
    for entry in $(instances "$name" "$port"); do
      wait_ready "${entry%%:*}" "http://127.0.0.1:${entry##*:}" 90
    done
    [ "$replicas" = 1 ] || wait_ready "$name" "http://127.0.0.1:$port" 10
  done
  echo "SafetyNet is up in $(( $(date +%s) - start )) s:"
  grep -E '_URL=|KAFKA_BOOTSTRAP|SAFETYNET_CLI' "$local_dir/stack.env" | sed 's/^/  /'
  echo "  (all of it in $local_dir/stack.env; logs in $log_dir)"
}

down() {
  local pidfile
  for pidfile in "$run_dir"/*.pid; do  # every process `up` started, whatever REPLICAS was then
    [ -e "$pidfile" ] && stop_pid "$pidfile"
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
