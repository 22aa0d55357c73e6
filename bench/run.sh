#!/usr/bin/env bash
# Reproduces the figures in bench/RESULTS.md on this machine, in one run:
#   1. in-process lexical search vs Xapian (build time, memory, queries/s on one core, NDCG@10)
#   2. offline relevance (shelfwatch eval, TEST split)
#   3. HTTP end to end: shelfwatch bench at concurrency 1,4,16, cross-checked with wrk
# usage: bench/run.sh [BUILD_DIR] [DATA_DIR]
set -euo pipefail
BUILD=${1:-build}
DATA=${2:-../shared/data}
BIN=$BUILD/shelfwatch
HD=$DATA/homedepot
DURATION=${DURATION:-10s}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== $($BIN version)"

echo; echo "== 1. lexical search in process (one core), shelfwatch vs Xapian"
if [ -x "$BUILD/bench/lexical_bench" ]; then
  taskset -c 0 "$BUILD/bench/lexical_bench" --data "$DATA"
else
  echo "lexical_bench not built (libxapian-dev missing?)"
fi

echo; echo "== 2. offline relevance, TEST split"
echo "\$ $BIN eval --catalog $HD/products.csv --queries $HD/queries.csv --qrels $HD/qrels.csv --split test"
$BIN eval --catalog "$HD/products.csv" --queries "$HD/queries.csv" --qrels "$HD/qrels.csv" --split test

echo; echo "== 3. HTTP end to end"
PORTFILE=$(mktemp)
$BIN serve --catalog "homedepot=$HD/products.csv" --port 0 --port-file "$PORTFILE" --threads "${SERVER_THREADS:-2}" \
  --log-level warn &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -f $PORTFILE' EXIT
for _ in $(seq 100); do [ -s "$PORTFILE" ] && break; sleep 0.1; done
PORT=$(cat "$PORTFILE")
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
echo "\$ $BIN bench --url http://127.0.0.1:$PORT --catalog homedepot --queries $HD/queries.csv --split test --concurrency 1,4,16 --duration $DURATION"
$BIN bench --url "http://127.0.0.1:$PORT" --catalog homedepot --queries "$HD/queries.csv" --split test \
  --concurrency 1,4,16 --duration "$DURATION" || true
if command -v wrk >/dev/null; then
  echo "\$ wrk -t1 -c16 -d$DURATION -s bench/wrk_search.lua http://127.0.0.1:$PORT -- $HD/queries.csv"
  wrk -t1 -c16 -d"$DURATION" -s "$(dirname "$0")/wrk_search.lua" "http://127.0.0.1:$PORT" -- "$HD/queries.csv"
fi
kill -TERM $SERVER; wait $SERVER || true
trap - EXIT

echo; echo "== 4. HTTP stacks side by side (fixed 1.3 KB JSON body; wrk -t1, server 2 threads)"
if [ -x "$BUILD/bench/http_stack_bench" ]; then
  BUILD_DIR=$BUILD RUNS=${RUNS:-1} "$(dirname "$0")/http_stack.sh"
fi

echo; echo "== 5. metric recording cost: shelfwatch registry vs prometheus-cpp"
if [ -x "$BUILD/bench/metrics_bench" ]; then
  "$BUILD/bench/metrics_bench" --benchmark_min_time=1 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
fi
