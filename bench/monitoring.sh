#!/usr/bin/env bash
# The monitoring benchmarks of bench/RESULTS.md, in one run on this machine:
#   1. search throughput with monitoring fully on (served-request log on disk, events store,
#      online metrics, drift monitors with the TRAIN reference, metric history at 1 s, alert
#      rules) vs --no-monitoring, interleaved rounds at concurrency 16; the ratio is the overhead
#      (also as server CPU time per search, steadier than throughput on a shared machine)
#   2. feedback ingest through POST /v1/events in batches of 500 (durable before answered)
#   3. /recommend on the Taobao events at concurrency 1 and 8
# usage: bench/monitoring.sh [BUILD_DIR] [DATA_DIR]
# MODELS=DIR runs part 1 over the full search pipeline (BM25 + vectors + ranker from that model
# repository, e.g. ./models from `make models`), so the per-version model drift monitors and the
# served log's feature vectors are part of "on"; ONLY_OVERHEAD=1 stops after part 1.
set -euo pipefail
BUILD=${1:-build}
DATA=${2:-../shared/data}
BIN=$BUILD/shelfwatch
HD=$DATA/homedepot
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT

start() {  # start NAME ARGS... : starts a server, waits until ready, sets PORT_<NAME> and PID_<NAME>
  local name=$1; shift
  $BIN serve --port 0 --port-file "$WORK/$name.port" --threads "${SERVER_THREADS:-2}" --log-level warn "$@" &
  PIDS+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 600); do [ -s "$WORK/$name.port" ] && curl -sf "http://127.0.0.1:$(cat "$WORK/$name.port")/readyz" >/dev/null && break; sleep 0.1; done
  eval "PORT_$name=$(cat "$WORK/$name.port")"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system time of a process, in clock ticks
throughput() {  # throughput PORT PID : "requests/s server-CPU-us-per-request" at concurrency 16
  # The server's CPU time per request is printed beside the throughput: on a machine shared with
  # other work, throughput swings with their load, CPU time per request much less.
  local t0 t1 out
  t0=$(cpu_ticks "$2")
  out=$($BIN bench --url "http://127.0.0.1:$1" --catalog homedepot --queries "$HD/queries.csv" --split test \
    --concurrency 16 --duration "$DURATION" --warmup 1s --json | python3 -c 'import json,sys; l=json.load(sys.stdin)["levels"][0]; print(l["throughput"], l["requests"])')
  t1=$(cpu_ticks "$2")
  # The warm-up second's requests are not in "requests" but its CPU is: a small overestimate, the same for both.
  python3 -c "import sys; tp, n = map(float, '$out'.split()); print(f'{tp:.1f} {($t1 - $t0) * 1e6 / $(getconf CLK_TCK) / n:.1f}')"
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $($BIN version)"

echo; echo "== 1. monitoring overhead on search (concurrency 16, $ROUNDS interleaved rounds of $DURATION)"
# ON_ARGS adds flags to the monitored server (e.g. ON_ARGS="--served-sample-rate 0.1").
start on --catalog "homedepot=$HD/products.csv,k1=0.2,b=0.85" --data-dir "$WORK/on" --history-interval 1s \
  --drift-reference "homedepot=$HD/queries.csv,split=train" --drift-interval 10s --rules deploy/prometheus/rules/shelfwatch.yml \
  ${MODELS:+--models "$MODELS"} ${ON_ARGS:-}
start off --catalog "homedepot=$HD/products.csv,k1=0.2,b=0.85" --no-monitoring ${MODELS:+--models "$MODELS"}
ON=(); OFF=(); ON_CPU=(); OFF_CPU=()
for r in $(seq "$ROUNDS"); do
  read -r tp cpu <<< "$(throughput "$PORT_off" "$PID_off")"; OFF+=("$tp"); OFF_CPU+=("$cpu")
  read -r tp cpu <<< "$(throughput "$PORT_on" "$PID_on")"; ON+=("$tp"); ON_CPU+=("$cpu")
  echo "round $r: monitoring off ${OFF[-1]} req/s (${OFF_CPU[-1]} us CPU/req), on ${ON[-1]} req/s (${ON_CPU[-1]} us CPU/req), load $(cut -d' ' -f1 /proc/loadavg)"
done
python3 - "${ON[*]}" "${OFF[*]}" "${ON_CPU[*]}" "${OFF_CPU[*]}" <<'PY'
import statistics, sys
on, off, on_cpu, off_cpu = ([float(x) for x in a.split()] for a in sys.argv[1:5])
m_on, m_off = statistics.median(on), statistics.median(off)
c_on, c_off = statistics.median(on_cpu), statistics.median(off_cpu)
print(f"median: on {m_on:.0f} req/s, off {m_off:.0f} req/s, on/off = {m_on / m_off:.3f} (overhead {100 * (1 - m_on / m_off):.1f}%)")
print(f"server CPU per search (median): on {c_on:.1f} us, off {c_off:.1f} us, on/off = {c_on / c_off:.3f}")
PY

[ -n "${ONLY_OVERHEAD:-}" ] && exit 0
echo; echo "== 2. feedback ingest, POST /v1/events, 500 events per request (committed with fsync before the answer)"
for c in 1 4 8; do
  $BIN bench --url "http://127.0.0.1:$PORT_on" --catalog homedepot --queries "$HD/queries.csv" --events-batch 500 \
    --concurrency $c --duration "$DURATION" | tail -2
done

echo; echo "== 3. recommendations, Taobao events"
start rec --catalog "taobao=$DATA/taobao/user_behavior.csv,format=events" --recommender "taobao=$DATA/taobao/user_behavior.csv" \
  --data-dir "$WORK/rec"
$BIN bench --url "http://127.0.0.1:$PORT_rec" --catalog taobao --recommend "$DATA/taobao/user_behavior.csv" \
  --concurrency 1,8 --duration "$DURATION"
