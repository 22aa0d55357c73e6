#!/usr/bin/env bash
# HTTP server stacks side by side, loaded the same way by wrk on 127.0.0.1: the shelfwatch
# server, Boost.Beast written as in its examples, libmicrohttpd, cpp-httplib (all from
# bench/http_stack_bench.cpp, same ~1.3 KB JSON body) and nginx serving that body as a static
# file as the reference peer. Prints one row per stack, connection count and run.
#
# Builds nothing; build first:
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build http_stack_bench
# usage: BUILD_DIR=build bench/http_stack.sh
# env:   THREADS   server threads, nginx worker_processes (2)
#        DURATION  per wrk measurement (10s); WARMUP: one discarded c16 run per start (2s)
#        CONNS     wrk connection counts, one wrk thread each ("16 1")
#        RUNS      rounds over all stacks (2); each round restarts every server
#        STACKS    default: every stack compiled into the binary, then nginx. A variant after
#                  '@' is passed on: microhttpd@poll (--mhd-mode), httplib@1000000
#                  (--httplib-keepalive-max)
#        LOG_DIR   where the raw wrk outputs are kept (default: a new temp dir)
set -euo pipefail

BUILD_DIR=${BUILD_DIR:-build}
BIN=$BUILD_DIR/bench/http_stack_bench
THREADS=${THREADS:-2}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-16 1}
RUNS=${RUNS:-2}
LOG_DIR=${LOG_DIR:-$(mktemp -d /tmp/http_stack.XXXXXX)}

[ -x "$BIN" ] || { echo "no $BIN; build it: ninja -C $BUILD_DIR http_stack_bench" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -z "${STACKS:-}" ]; then
  STACKS=$("$BIN" --list | xargs)
  if [ -x "$NGINX" ]; then STACKS="$STACKS nginx"; fi
fi

WORK=$(mktemp -d /tmp/http_stack_run.XXXXXX)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$LOG_DIR"
BODY=$WORK/www/search.json
mkdir -p "$WORK/www"
"$BIN" --print-body > "$BODY"
# nginx workers drop to 'nobody' when the master runs as root: let them read the body.
chmod 755 "$WORK" "$WORK/www"; chmod 644 "$BODY"

# A loopback port with no socket on it at all (listening or TIME_WAIT), checked with ss.
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )")" ]; then echo "$p"; return; fi
  done
  echo "no free port found" >&2; exit 1
}

# nginx as an unprivileged-config master under a temp prefix: nothing of /etc/nginx is read.
write_nginx_conf() {  # port
  local prefix=$WORK/nginx
  mkdir -p "$prefix"
  chmod 755 "$prefix"
  cat > "$prefix/nginx.conf" <<EOF
worker_processes $THREADS;
daemon off;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $prefix/body;
  proxy_temp_path $prefix/proxy;
  fastcgi_temp_path $prefix/fastcgi;
  uwsgi_temp_path $prefix/uwsgi;
  scgi_temp_path $prefix/scgi;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 60s;
  keepalive_requests 1000000;
  open_file_cache max=16 inactive=60s;
  default_type application/json;
  server {
    listen 127.0.0.1:$1 reuseport;
    root $WORK/www;
  }
}
EOF
  echo "$prefix"
}

start_stack() {  # stack[@variant] port -> SERVER_PID, URL
  local name=${1%@*} variant='' port=$2
  if [[ $1 == *@* ]]; then variant=${1#*@}; fi
  local args=(--port "$port" --threads "$THREADS")
  case $name in
    nginx)
      local prefix
      prefix=$(write_nginx_conf "$port")
      "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" > "$WORK/server.log" 2>&1 &
      SERVER_PID=$!
      URL=http://127.0.0.1:$port/search.json
      echo "serving nginx ($("$NGINX" -v 2>&1 | sed 's/.*: //'), static file, sendfile) on 127.0.0.1:$port, $THREADS workers" > "$WORK/server.log.head"
      return ;;
    microhttpd) if [ -n "$variant" ]; then args+=(--mhd-mode "$variant"); fi ;;
    httplib) if [ -n "$variant" ]; then args+=(--httplib-keepalive-max "$variant"); fi ;;
  esac
  "$BIN" "$name" "${args[@]}" > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  URL="http://127.0.0.1:$port/v1/catalogs/homedepot/search?q=cordless+drill"
  : > "$WORK/server.log.head"
}

stop_stack() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

wait_ready() {  # url
  for _ in $(seq 100); do
    if curl -sf -o /dev/null "$1"; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not answer at $1:" >&2; cat "$WORK/server.log" >&2; return 1
}

# wrk output -> "req/s p50 p99 max errors" (errors: socket errors + non-2xx/3xx answers)
parse_wrk() {
  awk '
    /^Requests\/sec:/ { rps = $2 }
    $1 == "Latency" && NF >= 5 && !max { max = $4 }
    $1 == "50%" { p50 = $2 }
    $1 == "99%" { p99 = $2 }
    /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { err += $5 }
    END { printf "%s %s %s %s %d\n", rps, p50, p99, max, err }' "$1"
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
echo "== $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); server threads $THREADS; wrk -t1 -c{$CONNS} -d$DURATION --latency, warm-up $WARMUP; $RUNS runs"
echo "== raw wrk outputs in $LOG_DIR"
ROWS=()
for run in $(seq "$RUNS"); do
  for stack in $STACKS; do
    port=$(free_port)
    start_stack "$stack" "$port"
    wait_ready "$URL"
    if [ "$run" = 1 ]; then
      if [ -s "$WORK/server.log.head" ]; then cat "$WORK/server.log.head"; else head -1 "$WORK/server.log"; fi
      cmp -s "$BODY" <(curl -s "$URL") || { echo "$stack answers a different body" >&2; exit 1; }
      echo "   response: $(curl -s -o /dev/null -w '%{size_header} header + %{size_download} body bytes, %{content_type}' "$URL")"
    fi
    wrk -t1 -c16 -d"$WARMUP" "$URL" > /dev/null
    for c in $CONNS; do
      log=$LOG_DIR/$stack.c$c.run$run.txt
      echo "\$ wrk -t1 -c$c -d$DURATION --latency $URL" > "$log"
      wrk -t1 -c"$c" -d"$DURATION" --latency "$URL" >> "$log"
      read -r rps p50 p99 max err < <(parse_wrk "$log")
      ROWS+=("$(printf '%-24s %7s %5s %3s %12s %9s %9s %9s %7s' "$stack" "$THREADS" "$c" "$run" "$rps" "$p50" "$p99" "$max" "$err")")
      echo "${ROWS[-1]}"
    done
    stop_stack
  done
done

echo
printf '%-24s %7s %5s %3s %12s %9s %9s %9s %7s\n' stack threads conns run req/s p50 p99 max errors
for c in $CONNS; do
  for stack in $STACKS; do
    for row in "${ROWS[@]}"; do
      read -r s _ rc _ <<< "$row"
      [ "$s" = "$stack" ] && [ "$rc" = "$c" ] && echo "$row"
    done
  done
done
