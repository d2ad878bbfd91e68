#!/usr/bin/env bash
# cluster.sh: a fleet on one machine: a 3-node NATS cluster (JetStream, the stream
# replicated 3 times), 3 gateways and HAProxy in front (health checks on /readyz,
# WebSocket-friendly timeouts). Processes run in the background until `down`.
#   scripts/cluster.sh up       build, start everything, print the URLs
#   scripts/cluster.sh down     stop what `up` started (by the pids it wrote)
#   scripts/cluster.sh status   what is running
# WSGATE_PORT (8080, HAProxy)  GATEWAY_PORT (8081: 8081-8083)  NATS_PORT (4222: 4222-4224;
# monitoring +4000, routes +2000)  CLUSTER_DIR (.run/cluster: stores, logs, pids)
# WSGATE_ARGS (extra gateway options)
set -euo pipefail
cd "$(dirname "$0")/.."
WSGATE_PORT=${WSGATE_PORT:-8080}
GATEWAY_PORT=${GATEWAY_PORT:-8081}
NATS_PORT=${NATS_PORT:-4222}
DIR=${CLUSTER_DIR:-.run/cluster}
NODES=(1 2 3)

nats_port() { echo $((NATS_PORT + $1 - 1)); }
http_port() { echo $((NATS_PORT + 4000 + $1 - 1)); }
route_port() { echo $((NATS_PORT + 2000 + $1 - 1)); }
gw_port() { echo $((GATEWAY_PORT + $1 - 1)); }

# shellcheck source=scripts/lib.sh
. scripts/lib.sh # the cd above put us at the top of the checkout

# start NAME CMD...: run CMD in the background (own session), log and pid in $DIR
start() {
  local name=$1
  shift
  setsid "$@" >"$DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name.pid"
}

running() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

# The HAProxy configuration (tests/lib/haproxy.mjs writes the same one).
haproxy_cfg() {
  cat <<CFG
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout tunnel 1h        # an upgraded WebSocket: the gateway pings every 25 s
    timeout client-fin 5s
    timeout server-fin 5s
    option redispatch        # a retry goes to another gateway
    retries 3
    retry-on conn-failure empty-response 503  # a gateway that is down, starting or draining
    default-server inter 500ms fall 2 rise 2
frontend wsgate
    bind 127.0.0.1:$WSGATE_PORT
    default_backend gateways
backend gateways
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
CFG
  for i in "${NODES[@]}"; do
    echo "    server gw$i 127.0.0.1:$(gw_port "$i") check"
  done
}

up() {
  for name in n1 n2 n3 gw1 gw2 gw3 haproxy; do
    if running "$name"; then
      echo "$name is already running (scripts/cluster.sh down first)" >&2
      exit 1
    fi
  done
  command -v haproxy >/dev/null || { echo "haproxy not found (apt-get install haproxy)" >&2; exit 1; }
  bash scripts/setup.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$(nproc)" --target wsgate wsgate-sim
  mkdir -p "$DIR"

  local routes="" urls=()
  for i in "${NODES[@]}"; do
    routes+="${routes:+,}nats://127.0.0.1:$(route_port "$i")"
    urls+=("nats://127.0.0.1:$(nats_port "$i")")
  done
  for i in "${NODES[@]}"; do
    start "n$i" nats-server -a 127.0.0.1 -p "$(nats_port "$i")" -m "$(http_port "$i")" -js -sd "$DIR/n$i" \
      -n "n$i" --cluster_name WSGATE --cluster "nats://127.0.0.1:$(route_port "$i")" --routes "$routes"
  done
  for i in "${NODES[@]}"; do
    wait_http "http://127.0.0.1:$(http_port "$i")/healthz?js-enabled-only=true" 30 "logs in $DIR/"
  done

  # gateway i talks to NATS node i first (then the others): the load is spread
  for i in "${NODES[@]}"; do
    local list=("${urls[@]:i-1}" "${urls[@]:0:i-1}")
    local nats
    nats=$(IFS=,; echo "${list[*]}")
    # shellcheck disable=SC2086 # WSGATE_ARGS is a list of options
    # behind HAProxy every client has the proxy's address: no per-address limit
    start "gw$i" build/wsgate --listen "127.0.0.1:$(gw_port "$i")" --nats "$nats" --stream-replicas 3 \
      --max-conns-per-ip 0 --log-format json ${WSGATE_ARGS:-}
  done
  for i in "${NODES[@]}"; do
    wait_http "http://127.0.0.1:$(gw_port "$i")/readyz" 60 "logs in $DIR/"
  done

  haproxy_cfg >"$DIR/haproxy.cfg"
  haproxy -c -q -f "$DIR/haproxy.cfg"
  start haproxy haproxy -f "$DIR/haproxy.cfg" -db
  wait_http "http://127.0.0.1:$WSGATE_PORT/readyz" 20 "logs in $DIR/"

  local all
  all=$(IFS=,; echo "${urls[*]}")
  cat <<MSG

  The fleet is running: 3 NATS nodes, 3 gateways, HAProxy.
  Dashboard:  http://127.0.0.1:$WSGATE_PORT/            (through HAProxy)
  WebSocket:  ws://127.0.0.1:$WSGATE_PORT/ws
  Gateways:   http://127.0.0.1:$(gw_port 1)  :$(gw_port 2)  :$(gw_port 3)   (/readyz, /metrics)
  NATS:       $all
  Events:     build/wsgate-sim --nats $all --batches 2 --speed 10
  Logs:       $DIR/*.log      Stop: scripts/cluster.sh down

MSG
}

down() {
  local pids=() name pid
  for name in haproxy gw1 gw2 gw3 n1 n2 n3; do
    if running "$name"; then
      pid=$(cat "$DIR/$name.pid")
      kill -TERM "$pid"
      pids+=("$pid")
    fi
    rm -f "$DIR/$name.pid"
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  done
  echo "stopped ${#pids[@]} process(es); stores and logs stay in $DIR/"
}

status() {
  for name in n1 n2 n3 gw1 gw2 gw3 haproxy; do
    if running "$name"; then echo "$name running (pid $(cat "$DIR/$name.pid"))"; else echo "$name stopped"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
