#!/usr/bin/env bash
# Local AWS emulator for tests and the local pipeline: moto plus the project's bridges
# (provisioned concurrency, Lambda invoke of real bootstrap binaries, CloudWatch CBOR).
#
#   scripts/local-aws.sh setup      create/refresh .venv/local-aws from local-aws/requirements.txt
#   scripts/local-aws.sh start      start in the background; prints `export ...` lines for eval
#   scripts/local-aws.sh stop       stop it and every function process it started (idempotent)
#   scripts/local-aws.sh status     exit 0 and print the endpoint when running, exit 1 otherwise
#   scripts/local-aws.sh selftest   run the harness's own tests
#
#   eval "$(scripts/local-aws.sh start)"
#
# Environment: LOCAL_AWS_PORT (default: a free port), LOCAL_AWS_PYTHON (default: python3),
# LOCAL_AWS_START_TIMEOUT (seconds, default 30), AWS_REGION (default us-east-1) and the
# launcher's LOCAL_AWS_* tuning variables (see local-aws/README.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HARNESS="$ROOT/local-aws"
VENV="$ROOT/.venv/local-aws"
PY="$VENV/bin/python"
STATE="$ROOT/.local-aws"
PID_FILE="$STATE/pid"
ENDPOINT_FILE="$STATE/endpoint"

say() { echo "local-aws: $*" >&2; }
die() { say "error: $*"; exit 1; }

requirements_hash() {
  local base_python="${LOCAL_AWS_PYTHON:-python3}"
  {
    cat "$HARNESS/requirements.txt" "$HARNESS/constraints.txt"
    "$base_python" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
}

cmd_setup() {
  local base_python="${LOCAL_AWS_PYTHON:-python3}" want marker="$VENV/.requirements.sha256"
  command -v "$base_python" >/dev/null || die "$base_python not found (set LOCAL_AWS_PYTHON)"
  "$base_python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$base_python is older than Python 3.11"
  want="$(requirements_hash)"
  if [[ -x "$PY" && -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
    return 0
  fi
  say "creating $VENV (moto and cbor2, about half a minute)"
  rm -rf "$VENV"
  "$base_python" -m venv "$VENV"
  # --no-compile: moto ships thousands of modules and the emulator imports a few hundred;
  # those compile on first use, which makes the install about twice as fast.
  "$PY" -m pip install --quiet --disable-pip-version-check --no-input --no-compile \
    -r "$HARNESS/requirements.txt" -c "$HARNESS/constraints.txt" >&2
  echo "$want" >"$marker"
}

# True while the process exists and has not exited (a zombie waiting for its reaper has).
alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ "${stat##*) }" != Z* ]]
}

# The launcher's pid when it is running, else nothing (and a stale pid file is removed).
running_pid() {
  [[ -f "$PID_FILE" ]] || return 0
  local pid
  pid="$(cat "$PID_FILE")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'local_aws\.py'; then
    echo "$pid"
  fi
}

answers() { "$PY" - "$1/moto-api/" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()
EOF
}

print_exports() {
  local url="$1" region="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
  cat <<EOF
export AWS_ENDPOINT_URL=$url
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=$region
export AWS_DEFAULT_REGION=$region
EOF
}

show_logs() {
  local f
  for f in "$STATE/console.log" "$STATE/local-aws.log"; do
    [[ -s "$f" ]] && { say "--- tail of $f"; tail -n 30 "$f" >&2; }
  done
  return 0
}

cmd_start() {
  cmd_setup
  local pid url timeout="${LOCAL_AWS_START_TIMEOUT:-30}" port="${LOCAL_AWS_PORT:-0}"
  pid="$(running_pid)"
  if [[ -n "$pid" && -f "$ENDPOINT_FILE" ]]; then
    url="$(cat "$ENDPOINT_FILE")"
    say "already running (pid $pid) on $url"
    print_exports "$url"
    return 0
  fi
  cmd_stop >/dev/null 2>&1  # clear leftovers of a launcher that died
  mkdir -p "$STATE"
  # Each run starts with fresh logs, like the emulator's in-memory state.
  rm -rf "$ENDPOINT_FILE" "$STATE/console.log" "$STATE/local-aws.log" "$STATE/requests.log" "$STATE/lambda"
  "$PY" "$HARNESS/local_aws.py" --host 127.0.0.1 --port "$port" --state-dir "$STATE" --new-session \
    </dev/null >"$STATE/console.log" 2>&1 &
  pid=$!
  echo "$pid" >"$PID_FILE"
  local deadline=$((SECONDS + timeout))
  until [[ -f "$ENDPOINT_FILE" ]] && answers "$(cat "$ENDPOINT_FILE")"; do
    if ! alive "$pid"; then
      say "error: the launcher exited during start-up"
      show_logs
      rm -f "$PID_FILE"
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      say "error: no answer from /moto-api/ within ${timeout}s"
      show_logs
      cmd_stop >/dev/null 2>&1
      exit 1
    fi
    sleep 0.1
  done
  url="$(cat "$ENDPOINT_FILE")"
  say "ready on $url (pid $pid, state in $STATE)"
  print_exports "$url"
}

# Members of the launcher's session: the launcher and the bootstraps it started (each leads
# its own process group inside that session). A session id is its leader's pid, and a pid is
# not reused while the process (even a zombie) exists, so when the recorded launcher is ours or
# gone, every member is ours, also after the launcher itself was killed.
session_members() {
  local pid="$1" stat
  if [[ -e "/proc/$pid" ]]; then
    stat="$(cat "/proc/$pid/stat" 2>/dev/null || true)"
    if [[ -z "$(running_pid)" && ! "$stat" =~ ^[0-9]+\ \(python[^\)]*\)\ Z ]]; then
      return 0  # that pid now belongs to someone else's process: leave its session alone
    fi
  fi
  ps -eo pid=,sid= | awk -v s="$pid" '$2 == s { print $1 }'
}

cmd_stop() {
  [[ -f "$PID_FILE" ]] || { say "not running"; return 0; }
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || { rm -f "$PID_FILE"; return 0; }
  if [[ -n "$(running_pid)" ]]; then
    kill -TERM "$pid" 2>/dev/null || true  # the launcher stops its functions itself
    local i
    for ((i = 0; i < 200; i++)); do
      alive "$pid" || break
      sleep 0.05
    done
  fi
  local member
  for member in $(session_members "$pid"); do
    kill -KILL "$member" 2>/dev/null || true
  done
  rm -f "$PID_FILE" "$ENDPOINT_FILE"
  say "stopped"
}

cmd_status() {
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" && -f "$ENDPOINT_FILE" ]] && answers "$(cat "$ENDPOINT_FILE")"; then
    echo "running (pid $pid) on $(cat "$ENDPOINT_FILE")"
    return 0
  fi
  echo "not running"
  return 1
}

cmd_selftest() {
  cmd_setup
  cd "$HARNESS"
  "$PY" test_local_aws.py
}

case "${1:-}" in
  setup) cmd_setup ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  selftest) cmd_selftest ;;
  *)
    echo "usage: $0 {setup|start|stop|status|selftest}" >&2
    exit 2
    ;;
esac
