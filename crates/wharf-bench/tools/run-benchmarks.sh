#!/usr/bin/env bash
# Runs the measurements of BENCHMARKS.md against a release `wharf` binary and writes one JSON
# file per run into OUT_DIR. Every run starts its own `wharf up` (loopback, temp dir, stopped
# by PID). Before each run it waits (up to QUIET_MAX seconds) until the machine is quiet:
# under QUIET_BUSY cores busy over 3 s, and records the load it found.
#
#   crates/wharf-bench/tools/run-benchmarks.sh [WHARF_BIN] [OUT_DIR] [STEPS...]
#   STEPS: facts compare cm cm-h2 cm10k watch fill scale crash (default: all)
set -euo pipefail
cd "$(dirname "$0")/../../.."
WHARF=${1:-target/release/wharf}
OUT=${2:-/tmp/wharf-bench-results}
shift $(( $# > 2 ? 2 : $# )) || true
STEPS=${*:-facts compare cm cm-h2 cm10k watch fill scale crash}
BENCH=${BENCH:-target/release/wharf-bench}
PY_TOOL=${PY_TOOL:-/work/shared/bench/k8s-load.py}
QUIET_BUSY=${QUIET_BUSY:-0.25}
QUIET_MAX=${QUIET_MAX:-900}
REPEAT=${REPEAT:-3}
mkdir -p "$OUT"

busy_cores() { # busy cores averaged over 3 s, from /proc/stat
  read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ < /proc/stat
  sleep 3
  read -r _ u2 n2 s2 i2 w2 q2 sq2 st2 _ < /proc/stat
  local busy=$(( (u2+n2+s2+q2+sq2+st2) - (u1+n1+s1+q1+sq1+st1) ))
  local total=$(( busy + (i2+w2) - (i1+w1) ))
  awk -v b="$busy" -v t="$total" -v n="$(nproc)" 'BEGIN { printf "%.2f", (t > 0 ? b / t * n : 0) }'
}

wait_quiet() {
  local start=$SECONDS b
  while :; do
    b=$(busy_cores)
    if awk -v b="$b" -v q="$QUIET_BUSY" 'BEGIN { exit !(b < q) }'; then break; fi
    if (( SECONDS - start > QUIET_MAX )); then echo "  machine still busy ($b cores) after ${QUIET_MAX}s; running anyway" >&2; break; fi
    sleep 7
  done
  echo "  quiet check: ${b} cores busy before the run; loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  echo "$b" > "$OUT/.busy"
}

run() { # name, then the wharf-bench arguments
  local name=$1; shift
  wait_quiet
  echo "== $name: $BENCH $*" >&2
  "$BENCH" "$@" > "$OUT/$name.json"
  python3 - "$OUT/$name.json" "$(cat "$OUT/.busy")" <<'EOF'
import json, sys
p, busy = sys.argv[1], float(sys.argv[2])
d = json.load(open(p)); d["busy_cores_before_run"] = busy
json.dump(d, open(p, "w"), indent=1)
EOF
}

for step in $STEPS; do
  case $step in
    facts)
      { echo "nproc: $(nproc)"; grep -m1 'model name' /proc/cpuinfo; free -m; uname -r; df -hT /tmp | tail -1; } > "$OUT/facts.txt"
      wait_quiet
      "$BENCH" fsync --dir /tmp --count 500 > "$OUT/fsync.json" ;;
    compare)
      run compare-python-first --spawn "$WHARF" compare --python-tool "$PY_TOOL" --count 2000 --clients 16 --procs 4
      run compare-rust-first --spawn "$WHARF" compare --python-tool "$PY_TOOL" --count 2000 --clients 16 --procs 4 --rust-first ;;
    cm)
      for i in $(seq 1 "$REPEAT"); do run "cm2000-$i" --spawn "$WHARF" cm --count 2000 --clients 16; done ;;
    cm-h2)
      run cm2000-h2 --spawn "$WHARF" cm --count 2000 --clients 16 --http2 ;;
    cm10k)
      for i in $(seq 1 "$REPEAT"); do run "cm10000-$i" --spawn "$WHARF" cm --count 10000 --clients 16; done ;;
    watch)
      run watch100 --spawn "$WHARF" watch --watchers 100 --events 1000 ;;
    fill)
      run fill50k --spawn "$WHARF" fill --count 50000 --clients 16 --settle 3 --lists 1
      run fill100k --spawn "$WHARF" fill --count 100000 --clients 16 --settle 5 ;;
    scale)
      for c in 1 4 16 32 64; do run "scale-clients-$c" --spawn "$WHARF" cm --count 10000 --clients "$c" --gets 0 --lists 0; done ;;
    crash)
      run crash-check-10000 --spawn "$WHARF" cm --count 10000 --clients 16 --gets 10 --lists 2 --crash-check ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
echo "results in $OUT" >&2
