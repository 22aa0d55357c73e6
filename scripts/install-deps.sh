#!/usr/bin/env bash
# Installs shelfwatch's build, test and benchmark dependencies from Debian's archive.
# Idempotent: packages already installed are skipped, and `apt-get update` runs only when
# something is missing. Must run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl
  libboost-dev libboost-system-dev libboost-program-options-dev   # Boost 1.74 (bookworm default; libxgboost0 needs it)
  libicu-dev libstemmer-dev                                       # text analysis
  libsqlite3-dev                                                  # embedded state
  libsimdjson-dev rapidjson-dev nlohmann-json3-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev                      # tests and micro-benchmarks
  prometheus prometheus-alertmanager                              # real Prometheus / Alertmanager in integration tests
  chromium                                                        # headless browser for the dashboard test
  libeigen3-dev                                                   # linear algebra for recommenders
  libxgboost-dev libtorch-dev libopenblas0-pthread libhnswlib-dev # model backends (OpenBLAS: ~25x faster than reference BLAS)
  python3-torch python3-xgboost                                   # test fixtures are made by scripts
  ccache                                                          # compiler cache (used when present)
  wrk                                                             # HTTP cross-check in benchmarks
)

# Peers measured side by side in bench/ (make bench): installed with --bench only.
BENCH_PACKAGES=(
  libxapian-dev                                                   # lexical search peer
  prometheus-cpp-dev                                              # metric recording peer
  libmicrohttpd-dev libcpp-httplib-dev nginx                      # HTTP stack peers
)
if [ "${1:-}" = "--bench" ]; then PACKAGES+=("${BENCH_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  # dpkg-query prints "install ok installed" for a fully installed package.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
