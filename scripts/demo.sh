#!/usr/bin/env bash
# make demo: serve the Home Depot catalog (search) and the Taobao events (recommendations) on
# http://127.0.0.1:PORT with monitoring and alerting on, and drive it with simulated shoppers
# (real TEST queries, clicks by the human relevance judgments) so the dashboard has data.
set -euo pipefail
BIN=${1:-build/shelfwatch}
DATA=${2:-../shared/data}
PORT=${3:-8080}
MODELS=${4:-models}
PRODUCTS="$DATA/homedepot/products.csv"
QUERIES="$DATA/homedepot/queries.csv"
QRELS="$DATA/homedepot/qrels.csv"
EVENTS="$DATA/taobao/user_behavior.csv"
for f in "$PRODUCTS" "$QUERIES" "$QRELS" "$EVENTS"; do
  if [ ! -f "$f" ]; then
    echo "demo: $f not found (set DATA_DIR=/path/to/shared/data)" >&2
    exit 1
  fi
done
URL="http://127.0.0.1:$PORT"
STATE="${DEMO_DATA_DIR:-/tmp/shelfwatch-demo}"
cat <<MSG

shelfwatch demo — Home Depot search ($(($(wc -l <"$PRODUCTS") - 1)) products) and Taobao recommendations at $URL

Open $URL/ for the dashboard (overview, business, drift, alerts). Simulated shoppers start once
the server is ready. Try, in another terminal:
  curl -s '$URL/v1/catalogs/homedepot/search?q=cordless+drill&k=5' | python3 -m json.tool
  curl -s '$URL/v1/catalogs/homedepot/search?q=cordles+dril&k=3&explain=true' | python3 -m json.tool
  curl -s '$URL/v1/admin/models' | python3 -m json.tool
  curl -s '$URL/v1/catalogs/taobao/recommend?user=1&k=5'
  curl -s '$URL/v1/monitor/business?window=15m' | python3 -m json.tool
  curl -s '$URL/v1/monitor/queries?catalog=homedepot&kind=zero_result'
  curl -s '$URL/v1/monitor/drift?evaluate=true' | python3 -m json.tool | less
  curl -s '$URL/v1/monitor/drift?evaluate=true&model=homedepot-ranker:1' | python3 -m json.tool | less
  curl -s '$URL/v1/alerts'
  curl -s '$URL/metrics' | grep shelfwatch_
  $BIN export training-data --data-dir $STATE --labelled-only | head
  $BIN bench --url $URL --catalog homedepot --queries $QUERIES --concurrency 1,4,16 --duration 5s

Ctrl-C stops the shoppers and the server (graceful: in-flight requests finish).

MSG
# The search pipeline's models (make models): BM25 + vector retrieval fused, then the ranker.
MODEL_ARGS=()
if [ -d "$MODELS/homedepot-ranker" ]; then MODEL_ARGS=(--models "$MODELS"); fi
# k1/b chosen on the TRAIN split by `shelfwatch eval --tune` (see bench/RESULTS.md); the drift
# reference is the TRAIN queries run through the catalog.
"$BIN" serve --port "$PORT" --data-dir "$STATE" \
  --catalog "homedepot=$PRODUCTS,k1=0.2,b=0.85" \
  --catalog "taobao=$EVENTS,format=events" --recommender "taobao=$EVENTS" \
  --drift-reference "homedepot=$QUERIES,split=train" --drift-window 10m --drift-bucket 10s --drift-interval 15s \
  --rules deploy/prometheus/rules/shelfwatch.yml ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"} &
SERVER=$!
SHOPPERS=""
cleanup() {
  [ -n "$SHOPPERS" ] && kill "$SHOPPERS" 2>/dev/null || true
  kill -TERM "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
}
trap cleanup INT TERM EXIT
for _ in $(seq 1 120); do
  if curl -sf "$URL/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER" 2>/dev/null; then exit 1; fi
  sleep 1
done
"$BIN" simulate --url "$URL" --queries "$QUERIES" --qrels "$QRELS" --rate 20 >/dev/null 2>&1 &
SHOPPERS=$!
echo "demo: ready; simulated shoppers are searching, clicking and buying at 20 searches/s"
wait "$SERVER"
