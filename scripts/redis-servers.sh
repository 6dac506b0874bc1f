#!/usr/bin/env bash
# Runs a command with Redis servers of its own: one standalone server and a 3-master
# cluster on free loopback ports, each in a temporary directory, stopped by pid when
# the command ends (also on failure or interrupt).
#
#   bash scripts/redis-servers.sh cargo test --release
#
# Installs Debian's redis-server (and redis-tools) first when missing. The command sees:
#   SESSIONS_REDIS_URL          redis://127.0.0.1:PORT/0
#   SESSIONS_REDIS_CLUSTER_URL  redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
#   SESSIONS_REDIS_SERVER       the redis-server binary (tests start private servers)
#   SESSIONS_REDIS_REQUIRED=1   tests that need Redis fail instead of skipping
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "redis-servers.sh: installing redis-server from Debian" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
    # Debian's package starts a system service on 6379; the tests do not use it.
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/sessions-redis.XXXXXX")"
pids=()
stop() {
    local status=$?
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        # Wait for each server to exit (a bounded wait: 5 s, then SIGKILL).
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$dir"
    exit "$status"
}
cmd_pid=""
trap stop EXIT
trap '[ -z "$cmd_pid" ] || kill "$cmd_pid" 2>/dev/null; exit 130' INT TERM

# Four free ports whose cluster bus ports (port + 10000) are free too.
read -r -a ports < <(python3 - <<'PY'
import socket
found = []
while len(found) < 4:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    if port + 10000 > 65535 or port in found:
        continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", port + 10000))
    except OSError:
        continue
    finally:
        b.close()
    found.append(port)
print(*found)
PY
)

start() { # name port extra-args...
    local name=$1 port=$2
    shift 2
    mkdir -p "$dir/$name"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir/$name" --save "" \
        --appendonly no --protected-mode no --daemonize no --logfile "$dir/$name/log" "$@" &
    pids+=("$!")
}
wait_ping() { # port
    for _ in $(seq 100); do
        redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "redis-servers.sh: redis on port $1 did not start" >&2
    exit 1
}

start standalone "${ports[0]}"
for i in 1 2 3; do
    start "node$i" "${ports[$i]}" --cluster-enabled yes --cluster-config-file "$dir/node$i/nodes.conf" \
        --cluster-node-timeout 2000
done
for p in "${ports[@]}"; do wait_ping "$p"; done
redis-cli --cluster create "127.0.0.1:${ports[1]}" "127.0.0.1:${ports[2]}" "127.0.0.1:${ports[3]}" \
    --cluster-replicas 0 --cluster-yes >"$dir/cluster-create.log" 2>&1 || {
    cat "$dir/cluster-create.log" >&2
    exit 1
}
for p in "${ports[@]:1}"; do
    for _ in $(seq 100); do
        redis-cli -p "$p" cluster info 2>/dev/null | grep -q cluster_state:ok && break
        sleep 0.05
    done
done

export SESSIONS_REDIS_URL="redis://127.0.0.1:${ports[0]}/0"
export SESSIONS_REDIS_CLUSTER_URL="redis+cluster://127.0.0.1:${ports[1]},127.0.0.1:${ports[2]},127.0.0.1:${ports[3]}"
export SESSIONS_REDIS_SERVER="$(command -v redis-server)"
export SESSIONS_REDIS_REQUIRED=1
echo "redis-servers.sh: standalone $SESSIONS_REDIS_URL, cluster $SESSIONS_REDIS_CLUSTER_URL" >&2
# In the background, so a signal reaches the trap (and the servers stop) at once.
"$@" &
cmd_pid=$!
wait "$cmd_pid"
