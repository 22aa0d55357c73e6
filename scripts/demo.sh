#!/usr/bin/env bash
# make demo: serve the Home Depot catalog on http://127.0.0.1:PORT and say what to try.
set -euo pipefail
BIN=${1:-build/shelfwatch}
DATA=${2:-../shared/data}
PORT=${3:-8080}
PRODUCTS="$DATA/homedepot/products.csv"
if [ ! -f "$PRODUCTS" ]; then
  echo "demo: $PRODUCTS not found (set DATA_DIR=/path/to/shared/data)" >&2
  exit 1
fi
URL="http://127.0.0.1:$PORT"
cat <<MSG

shelfwatch demo — Home Depot catalog ($(($(wc -l <"$PRODUCTS") - 1)) products) at $URL

Try, in another terminal:
  curl -s '$URL/v1/catalogs/homedepot/search?q=cordless+drill&k=5' | python3 -m json.tool
  curl -s '$URL/v1/catalogs/homedepot/search?q=3/4+inch+pvc+elbow&k=5'
  curl -s '$URL/v1/catalogs/homedepot/search?q=deck+stain&k=10&offset=10'
  curl -s '$URL/v1/catalogs/homedepot'          # catalog and index statistics
  curl -s '$URL/readyz'                          # 200 once the catalog is indexed
  curl -s '$URL/metrics' | grep shelfwatch_      # Prometheus metrics
  $BIN eval --catalog $PRODUCTS --queries $DATA/homedepot/queries.csv --qrels $DATA/homedepot/qrels.csv --split test --tune
  $BIN bench --url $URL --catalog homedepot --queries $DATA/homedepot/queries.csv --concurrency 1,4,16 --duration 5s

Ctrl-C stops the server (graceful: in-flight requests finish).

MSG
# k1/b chosen on the TRAIN split by `shelfwatch eval --tune` (see bench/RESULTS.md).
exec "$BIN" serve --catalog "homedepot=$PRODUCTS,k1=0.2,b=0.85" --host 127.0.0.1 --port "$PORT" --data-dir "${DEMO_DATA_DIR:-/tmp/shelfwatch-demo}"
