#!/usr/bin/env bash
# The full search pipeline over HTTP (bench/RESULTS.md "full pipeline"), in one run:
#   1. throughput and latency at concurrency 8 (and 1, 16) of BM25 alone and of the full
#      pipeline (BM25 + vector ANN -> RRF -> features -> LambdaMART ranker) on the same machine,
#      over the Home Depot TEST queries, with the models `make models` trained;
#   2. a ranker version swap during `shelfwatch bench` at concurrency 16: a copy of the serving
#      ranker is written as the next version while the load runs; the repository poller loads it
#      and new requests take it. The bench reports every failed request.
# usage: bench/pipeline.sh [BUILD_DIR] [DATA_DIR] [MODELS_DIR]
set -euo pipefail
BUILD=${1:-build}
DATA=${2:-../shared/data}
MODELS=${3:-models}
BIN=$BUILD/shelfwatch
HD=$DATA/homedepot
DURATION=${DURATION:-10s}
THREADS=${SERVER_THREADS:-2}
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT
for m in homedepot-embedding homedepot-ranker; do
  [ -d "$MODELS/$m" ] || { echo "pipeline.sh: $MODELS/$m missing: run make models" >&2; exit 1; }
done

start() {  # start NAME ARGS... : starts a server, waits until ready, sets PORT_<NAME>
  local name=$1; shift
  $BIN serve --port 0 --port-file "$WORK/$name.port" --threads "$THREADS" --log-level warn "$@" &
  PIDS+=($!)
  for _ in $(seq 900); do [ -s "$WORK/$name.port" ] && curl -sf "http://127.0.0.1:$(cat "$WORK/$name.port")/readyz" >/dev/null && break; sleep 0.1; done
  eval "PORT_$name=$(cat "$WORK/$name.port")"
}
bench() {  # bench PORT LEVELS
  $BIN bench --url "http://127.0.0.1:$1" --catalog homedepot --queries "$HD/queries.csv" --split test \
    --concurrency "$2" --duration "$DURATION" --warmup 2s
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $($BIN version)"
# A private copy of the repository: the swap below writes a version into it.
cp -r "$MODELS" "$WORK/models"
start bm25 --catalog "homedepot=$HD/products.csv,k1=0.2,b=0.85" --no-monitoring
start full --catalog "homedepot=$HD/products.csv,k1=0.2,b=0.85" --no-monitoring --models "$WORK/models" --model-poll-interval 1s
echo; echo "== what the full pipeline answers with"
curl -s "http://127.0.0.1:$PORT_full/v1/catalogs/homedepot/search?q=cordless+drill&k=1" | python3 -c \
  'import json,sys; r=json.load(sys.stdin); print("stages:", r["stages"], "| models:", r["model_versions"])'

echo; echo "== 1. BM25 alone (monitoring off)"
bench "$PORT_bm25" 1,8
echo; echo "== 1. full pipeline (monitoring off)"
bench "$PORT_full" 1,8,16

echo; echo "== 2. ranker swap during the load at concurrency 16"
RANKER="$WORK/models/homedepot-ranker"
CUR=$(ls "$RANKER" | grep -E '^[0-9]+$' | sort -n | tail -1)
NEXT=$((CUR + 1))
( sleep 4; cp -r "$RANKER/$CUR" "$RANKER/.v$NEXT"; mv "$RANKER/.v$NEXT" "$RANKER/$NEXT"; echo "   (wrote version $NEXT at +4 s)" ) &
bench "$PORT_full" 16
sleep 1
curl -s "http://127.0.0.1:$PORT_full/v1/catalogs/homedepot/search?q=cordless+drill&k=1" | python3 -c \
  'import json,sys; r=json.load(sys.stdin); print("after the swap, models:", r["model_versions"])'
curl -s "http://127.0.0.1:$PORT_full/metrics" | grep -E '^shelfwatch_http_requests_total\{route="/v1/catalogs/\{catalog\}/search"' || true
