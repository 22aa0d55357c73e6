#!/usr/bin/env bash
# make models: trains the search pipeline's models on the Home Depot TRAIN split (TEST is never
# read) into a model repository, each as the next version of its model:
#   MODELS/homedepot-embedding   two-tower hashed n-gram embedding (vector retrieval)
#   MODELS/homedepot-ranker      LambdaMART over BM25 + vector candidates fused by RRF
# The ranker's vector features are cross-fitted: two more embeddings, each trained without one
# half of the TRAIN queries (MODELS/.crossfit/, hidden from the repository poller), give every
# training query the similarity an unseen query gets at serving time.
# usage: scripts/train-models.sh [BIN] [DATA_DIR] [MODELS_DIR]
set -euo pipefail
BIN=${1:-build/shelfwatch}
DATA=${2:-../shared/data}
MODELS=${3:-models}
HD=$DATA/homedepot
THREADS=${THREADS:-$(nproc)}
COMMON=(--queries "$HD/queries.csv" --qrels "$HD/qrels.csv" --threads "$THREADS")
# Chosen on the TRAIN validation share (bench/RESULTS.md): 128 dimensions, title pseudo-queries.
EMBEDDING=(--dim 128 --self-supervision 2 --negatives 128 --batch 512 --epochs 10 --patience 4 ${EMBEDDING_ARGS:-})
mkdir -p "$MODELS/.crossfit"
start=$(date +%s)
echo "== embedding (served)"
"$BIN" train embeddings --catalog "$HD/products.csv" "${COMMON[@]}" "${EMBEDDING[@]}" --out "$MODELS/homedepot-embedding" | tail -1
for f in 0 1; do
  echo "== embedding without fold $f of 2 (cross-fitting)"
  rm -rf "$MODELS/.crossfit/homedepot-embedding-fold$f"
  "$BIN" train embeddings --catalog "$HD/products.csv" "${COMMON[@]}" "${EMBEDDING[@]}" --exclude-fold "$f/2" \
    --out "$MODELS/.crossfit/homedepot-embedding-fold$f" | tail -1
done
echo "== ranker"
"$BIN" train ranker --catalog "homedepot=$HD/products.csv,k1=0.2,b=0.85" "${COMMON[@]}" --out "$MODELS/homedepot-ranker" \
  --models "$MODELS" --embedding homedepot-embedding \
  --cross-fit homedepot-embedding-fold0,homedepot-embedding-fold1 --cross-fit-models "$MODELS/.crossfit" \
  --objective "${RANKER_OBJECTIVE:-rank:pairwise}" --trees "${RANKER_TREES:-300}" | tail -3
echo "== trained in $(( $(date +%s) - start )) s; evaluate on TEST with:"
echo "   $BIN eval --catalog homedepot=$HD/products.csv,k1=0.2,b=0.85 --queries $HD/queries.csv --qrels $HD/qrels.csv --models $MODELS"
