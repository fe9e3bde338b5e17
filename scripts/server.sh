#!/usr/bin/env bash
# A local Prefect server for qcflow (SQLite), with its work pool, QPU limit, deployments, a process worker and the
# automation that marks runs Crashed when their worker dies (workflows/server_automations.py).
#
#   scripts/server.sh          start (or check) everything; safe to run again
#   scripts/server.sh stop     stop the worker and the server
#   scripts/server.sh status   say what is running
#
# State lives under .qcflow/server/ in the repository (PREFECT_HOME, logs, pid files). Settings:
#   QCFLOW_SERVER_DIR   state folder            (default: <repo>/.qcflow/server)
#   QCFLOW_SERVER_PORT  port on 127.0.0.1       (default: 4200)
#   QCFLOW_QPU_SLOTS    slots of the `qpu` global concurrency limit when it is created (default: 1)
#   PREFECT_SERVER_API_AUTH_STRING   if set, the API asks for it (user:password); the worker and the CLI use it
#   PREFECT_API_DATABASE_CONNECTION_URL  if set, a PostgreSQL database instead of SQLite
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${QCFLOW_SERVER_DIR:-$REPO/.qcflow/server}"
PORT="${QCFLOW_SERVER_PORT:-4200}"
HOST=127.0.0.1
QPU_SLOTS="${QCFLOW_QPU_SLOTS:-1}"
POOL=qcflow-process
BIN="$REPO/.venv/bin"
LOGS="$STATE/logs"
PIDS="$STATE/run"

export PREFECT_HOME="$STATE/prefect"
export PREFECT_API_URL="http://$HOST:$PORT/api"
export PREFECT_UI_API_URL="$PREFECT_API_URL"  # the UI must call this server's API (any port but 4200 needs it)
export PREFECT_SERVER_ANALYTICS_ENABLED=false
if [[ -n "${PREFECT_SERVER_API_AUTH_STRING:-}" ]]; then
  export PREFECT_API_AUTH_STRING="${PREFECT_API_AUTH_STRING:-$PREFECT_SERVER_API_AUTH_STRING}"
fi

say() { echo "qcflow server: $*"; }
fail() { echo "qcflow server: $*" >&2; exit 1; }

alive() {  # alive NAME: the process in the pid file NAME.pid is running
  local file="$PIDS/$1.pid"
  [[ -f "$file" ]] && kill -0 "$(cat "$file")" 2>/dev/null
}

healthy() {
  "$BIN/python" - "$PREFECT_API_URL/health" <<'EOF' >/dev/null 2>&1
import base64, os, sys, urllib.request
request = urllib.request.Request(sys.argv[1])
auth = os.environ.get("PREFECT_API_AUTH_STRING")
if auth:
    request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
urllib.request.urlopen(request, timeout=3).read()
EOF
}

start_background() {  # start_background NAME LOG COMMAND...: own session (process group), pid file, log file
  # A background job of a script starts with SIGINT ignored, and Prefect's worker then ignores the SIGINT it
  # sends itself on SIGTERM: restore the default handlers and start a new session, keeping the pid (exec).
  local name="$1" log="$2"
  shift 2
  "$BIN/python" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.signal(signal.SIGQUIT, signal.SIG_DFL)
os.setsid()
os.execv(sys.argv[1], sys.argv[1:])' "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

stop_one() {  # stop_one NAME: SIGTERM the process group, SIGKILL after 20 s
  local file="$PIDS/$1.pid" pid
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    say "stopped $1 (pid $pid)"
  fi
  rm -f "$file"
}

start_server() {
  if healthy; then
    say "server already answering on $PREFECT_API_URL"
    return 0
  fi
  alive server && fail "server (pid $(cat "$PIDS/server.pid")) runs but does not answer; see $LOGS/server.log"
  if "$BIN/python" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('$HOST', $PORT)) != 0)"; then
    fail "port $PORT is taken by another program; set QCFLOW_SERVER_PORT to a free port"
  fi
  start_background server "$LOGS/server.log" "$BIN/prefect" server start --host "$HOST" --port "$PORT"
  for _ in $(seq 1 240); do
    healthy && return 0
    alive server || fail "server exited while starting; see $LOGS/server.log"
    sleep 0.5
  done
  fail "server did not answer within 120 s; see $LOGS/server.log"
}

register() {  # work pool, QPU limit and deployments (each step is idempotent)
  local log="$LOGS/deploy.log"
  if ! "$BIN/prefect" work-pool inspect "$POOL" >>"$log" 2>&1; then
    "$BIN/prefect" work-pool create "$POOL" --type process >>"$log" 2>&1 \
      || fail "could not create work pool $POOL; see $log"
  fi
  "$BIN/python" -c "from workflows.execution.qpu_slots import ensure_qpu_limit; ensure_qpu_limit($QPU_SLOTS)" >>"$log" 2>&1 \
    || fail "could not create the qpu concurrency limit; see $log"
  # Runs whose worker or host dies would stay Running forever (prefect#16746): mark them Crashed when their
  # heartbeats stop (PREFECT_FLOWS_HEARTBEAT_FREQUENCY, 180 s by default; the window is 3 heartbeats).
  "$BIN/python" -c "from workflows.server_automations import ensure_zombie_automation as e; print(e())" >>"$log" 2>&1 \
    || fail "could not create the automation that marks runs with a dead worker Crashed; see $log"
  (cd "$REPO" && "$BIN/prefect" --no-prompt deploy --all >>"$log" 2>&1) \
    || fail "prefect deploy --all failed; see $log"
}

start_worker() {
  if alive worker; then
    say "worker already running (pid $(cat "$PIDS/worker.pid"))"
    return 0
  fi
  (cd "$REPO" && start_background worker "$LOGS/worker.log" "$BIN/prefect" worker start --pool "$POOL" --type process)
}

case "${1:-start}" in
  start)
    [[ -x "$BIN/prefect" ]] || fail "no $BIN/prefect; run \`make install\` first"
    mkdir -p "$PREFECT_HOME" "$LOGS" "$PIDS"
    start_server
    register
    start_worker
    say "UI and API on http://$HOST:$PORT (logs in $LOGS)"
    say "try: PREFECT_API_URL=$PREFECT_API_URL $BIN/prefect deployment run 'materials-screening/nightly' --param shortlist_size=3"
    ;;
  stop)
    stop_one worker
    stop_one server
    ;;
  status)
    alive server && say "server pid $(cat "$PIDS/server.pid")" || say "server not started by this script"
    healthy && say "API answers on $PREFECT_API_URL" || say "API does not answer on $PREFECT_API_URL"
    alive worker && say "worker pid $(cat "$PIDS/worker.pid")" || say "worker not running"
    ;;
  *)
    fail "unknown command '$1'; use start, stop or status"
    ;;
esac
