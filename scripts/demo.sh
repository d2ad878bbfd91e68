#!/usr/bin/env bash
# demo.sh: install what is needed, build, start a local nats-server (JetStream), the
# gateway and simulated batches, and print the dashboard URL. Ctrl-C stops everything.
#   WSGATE_PORT (8080)  NATS_PORT (4222)  SIM_SPEED (2: a 1,000-assignment batch in ~3 min)
#   SIM_BATCHES (2)     WSGATE_LISTEN (127.0.0.1:$WSGATE_PORT; 0.0.0.0:8080 to share it)
set -euo pipefail
cd "$(dirname "$0")/.."
WSGATE_PORT=${WSGATE_PORT:-8080}
NATS_PORT=${NATS_PORT:-4222}
SIM_SPEED=${SIM_SPEED:-2}
SIM_BATCHES=${SIM_BATCHES:-2}
LISTEN=${WSGATE_LISTEN:-127.0.0.1:$WSGATE_PORT}
RUN=.run
NATS_URL=nats://127.0.0.1:$NATS_PORT

bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target wsgate wsgate-sim
mkdir -p "$RUN"

pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo stopped (logs in $RUN/)"
  exit 0
}
trap cleanup EXIT INT TERM

# shellcheck source=scripts/lib.sh
. scripts/lib.sh # the cd above put us at the top of the checkout

if curl -fsS -o /dev/null "http://127.0.0.1:$((NATS_PORT + 4000))/healthz" 2>/dev/null; then
  echo "using the nats-server already running on :$NATS_PORT"
else
  nats-server -js -sd "$RUN/nats" -a 127.0.0.1 -p "$NATS_PORT" -m $((NATS_PORT + 4000)) \
    >"$RUN/nats.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$((NATS_PORT + 4000))/healthz?js-enabled-only=true" 20
fi

build/wsgate --listen "$LISTEN" --nats "$NATS_URL" --log-format json >"$RUN/wsgate.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$WSGATE_PORT/readyz" 30

cat <<MSG

  wsgate is running.
  Dashboard:  http://127.0.0.1:$WSGATE_PORT/
  REST:       http://127.0.0.1:$WSGATE_PORT/api/batches   /api/verifications   /metrics
  WebSocket:  ws://127.0.0.1:$WSGATE_PORT/ws
  Logs:       $RUN/wsgate.log  $RUN/nats.log

  Simulating $SIM_BATCHES batches of 1,000 assignments by 15 workers (speed x$SIM_SPEED),
  plus HCP verifications; a new round starts when one ends. Ctrl-C to stop.

MSG

round=1
while true; do
  build/wsgate-sim --nats "$NATS_URL" --batches "$SIM_BATCHES" --speed "$SIM_SPEED" \
    --batch-prefix "r${round}x$(date +%H%M%S)" &
  sim=$!
  pids+=($sim)
  wait "$sim" || true
  round=$((round + 1))
done
