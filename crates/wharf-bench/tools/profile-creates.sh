#!/usr/bin/env bash
# Where a create's time goes: starts `wharf up` (loopback, temp dir), then during N creates
# with 16 clients either counts fsync calls / context switches (`stat`) or samples the
# server's CPU (`record`, flat profile by thread and by category). perf must be installed.
#
#   crates/wharf-bench/tools/profile-creates.sh [WHARF_BIN] [N] [stat|record]
set -euo pipefail
cd "$(dirname "$0")/../../.."
WHARF=${1:-target/release/wharf}; N=${2:-10000}; MODE=${3:-stat}
BENCH=${BENCH:-target/release/wharf-bench}
D=$(mktemp -d /tmp/wharf-profile.XXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$WHARF" up --data-dir "$D/data" --listen "127.0.0.1:$PORT" > "$D/out.txt" 2> "$D/err.txt" &
WP=$!
trap 'kill -TERM $WP 2>/dev/null; wait $WP 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 1 100); do grep -q ready "$D/out.txt" 2>/dev/null && break; sleep 0.1; done
sleep 1
if [ "$MODE" = record ]; then
  perf record -F 4999 -e cpu-clock -p "$WP" -o "$D/perf.data" 2> "$D/perf.err" &
else
  perf stat -e 'syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,context-switches,task-clock' -p "$WP" -o "$D/perfstat.txt" &
fi
PP=$!
sleep 0.5
"$BENCH" --server "https://127.0.0.1:$PORT" --token "$(cat "$D/data/clusters/default/admin.token")" \
  --ca "$D/data/clusters/default/pki/ca.crt" --pids "$WP" cm --count "$N" --clients 16 --gets 0 --lists 0 > "$D/bench.json"
kill -INT "$PP"; wait "$PP" || true
python3 - "$D/bench.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["cm"]["create"]
print("creates ok", c["ok"], "per_s", c["throughput_per_s"], "latency", c["latency"])
print("server cpu", json.dumps(c["cpu"]["server_cpu"]))
PY
if [ "$MODE" = record ]; then
  python3 crates/wharf-bench/tools/perf-categories.py "$D/perf.data"
else
  grep -E "fsync|fdatasync|context|task-clock|elapsed" "$D/perfstat.txt"
fi
