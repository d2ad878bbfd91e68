# scripts/lib.sh: shell helpers shared by demo.sh and cluster.sh (sourced, not run).

# wait_http URL SECONDS [HINT]: poll URL until it answers 2xx; on timeout say so
# (with HINT, e.g. where the logs are) on stderr and return 1.
wait_http() {
  for _ in $(seq 1 $(($2 * 10))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for $1${3:+ ($3)}" >&2
  return 1
}
