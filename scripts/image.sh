#!/usr/bin/env bash
# image.sh: build the FROM-scratch wsgate image with podman and smoke-test it.
#   scripts/image.sh
# Builds wsgate (RelWithDebInfo: -O2, the tested build; Release trips a -Werror false positive) in build-image/, assembles its root filesystem on the host
# (docker/rootfs.sh: no registry is reachable, so no builder stage can be pulled),
# builds docker/Dockerfile with --build-arg ROOTFS=host, saves build-image/wsgate-image.tar
# (docker-archive: `docker load -i` it), prints what each part weighs, then runs the
# container on the host network against a nats-server on loopback and checks: GET /readyz
# 200, the dashboard (/ and /app.js), a published event reaching a WebSocket client, the
# stored-to-write latency counted, and SIGTERM: the client gets close 1001 and the
# container exits 0. Last line: `image NAME BYTES bytes` (BYTES: podman's uncompressed size).
# Installs podman, buildah and runc from Debian when missing (LIBRARY-NOTES §7 flags).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
[ $# -eq 0 ] || { echo "usage: $0" >&2; exit 2; }

name=localhost/wsgate:ci
out=$root/build-image
mkdir -p "$out"

missing=()
for tool in podman buildah runc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends podman buildah runc >/dev/null
fi
command -v nats-server >/dev/null || { echo "image.sh: nats-server not found (scripts/setup.sh installs it)" >&2; exit 1; }

echo "== building wsgate (RelWithDebInfo, stripped in the image) in build-image/"
cmake -S . -B "$out/cmake" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSGATE_TESTS=OFF >/dev/null
cmake --build "$out/cmake" -j "$(nproc)" --target wsgate >/dev/null

W=$(mktemp -d /tmp/wsgate-image.XXXXXX)
P=(podman --root "$W/storage" --runroot "$W/run" --storage-driver vfs --runtime runc
   --cgroup-manager cgroupfs --events-backend file --tmpdir "$W/run/libpod" --runtime-flag "root=$W/run/runc")
mkdir -p "$W/run/libpod"

# What podman writes outside $W: remove it afterwards unless it was there before.
had_cache=0; [ -e /var/lib/containers ] && had_cache=1
had_run=0; [ -e /run/containers ] && had_run=1
cgroups() { find /sys/fs/cgroup -maxdepth 3 -type d -path '*/libpod_parent*' 2>/dev/null | sort -r || true; }
had_cg=$(cgroups)
ctr=""
nats_pid=""
cleanup() {
  set +e
  if [ -n "$ctr" ]; then "${P[@]}" rm -f -t 0 "$ctr" >/dev/null 2>&1; fi
  "${P[@]}" rmi -f "$name" >/dev/null 2>&1
  [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null
  for d in $(cgroups); do # the cgroup folders of our containers, deepest first
    grep -qxF "$d" <<<"$had_cg" || rmdir "$d" 2>/dev/null
  done
  [ "$had_cache" = 0 ] && rm -rf /var/lib/containers
  [ "$had_run" = 0 ] && rm -rf /run/containers
  rm -rf "$W"
}
trap cleanup EXIT

echo "== root filesystem (docker/rootfs.sh)"
mkdir -p "$W/ctx"
sh docker/rootfs.sh "$out/cmake/wsgate" "$W/ctx/rootfs"
cp docker/Dockerfile "$W/ctx/Dockerfile"
(cd "$W/ctx/rootfs" && find . -type f -printf '%s %P\n' | sort -rn) | awk '
  { printf "  %10d  %6.2f MiB  %s\n", $1, $1 / 1048576, $2; t += $1 }
  END { printf "  %10d  %6.2f MiB  in all (%d files; symlinks and folders aside)\n", t, t / 1048576, NR }'

echo "== podman build (--build-arg ROOTFS=host)"
"${P[@]}" build -q --timestamp 0 --build-arg ROOTFS=host -t "$name" "$W/ctx" >/dev/null
bytes=$("${P[@]}" image inspect --format '{{.Size}}' "$name")
rm -f "$out/wsgate-image.tar"
"${P[@]}" save -q --format docker-archive -o "$out/wsgate-image.tar" "$name"
gz=$(gzip -c "$out/wsgate-image.tar" | wc -c)
echo "  image $bytes bytes uncompressed ($(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }') MiB);" \
     "build-image/wsgate-image.tar $(stat -c %s "$out/wsgate-image.tar") bytes, $gz gzipped"
limit=$((12 * 1024 * 1024))
[ "$bytes" -le "$limit" ] || { echo "image.sh: image is $bytes bytes, over the 12 MiB target" >&2; exit 1; }
"${P[@]}" run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
  --entrypoint /bin/sh "$name" -c true >/dev/null 2>&1 && { echo "image.sh: the image has a shell" >&2; exit 1; }

echo "== smoke test"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nats_port=$(free_port)
gw_port=$(free_port)
mkdir -p "$W/nats"
nats-server -js -sd "$W/nats" -a 127.0.0.1 -p "$nats_port" >"$W/nats.log" 2>&1 &
nats_pid=$!
[ -d tests/node_modules ] || (cd tests && npm ci --no-audit --no-fund >/dev/null)

ctr=$("${P[@]}" run -d --network host --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
  -e WSGATE_LISTEN="127.0.0.1:$gw_port" -e WSGATE_NATS="nats://localhost:$nats_port" "$name")
stop_cmd=$(node -e 'console.log(JSON.stringify(process.argv.slice(1)))' "${P[@]}" stop -t 20 "$ctr")

if ! (cd tests && GW="127.0.0.1:$gw_port" NATS_URL="nats://127.0.0.1:$nats_port" STOP_CMD="$stop_cmd" \
  node --input-type=module -e '
import { spawn } from "node:child_process";
import { natsClient, publish, connect, httpGet, getMetrics, metricValue, pollUntil } from "./lib/harness.mjs";
const gw = `http://${process.env.GW}`;
const ok = (cond, what) => { if (!cond) throw new Error(`smoke: ${what}`); };
await pollUntil(async () => (await httpGet(`${gw}/readyz`)).status === 200, { timeoutMs: 30000, message: "GET /readyz 200" });
console.log("  GET /readyz: 200");
const page = await httpGet(`${gw}/`);
ok(page.status === 200 && /^text\/html/.test(page.headers.get("content-type")) && /<title>wsgate<\/title>/.test(page.text), `dashboard: GET / ${page.status}`);
const js = await httpGet(`${gw}/app.js`);
ok(js.status === 200 && /javascript/.test(js.headers.get("content-type")), `dashboard: GET /app.js ${js.status}`);
console.log(`  dashboard: GET / 200 text/html (${page.text.length} bytes), GET /app.js 200 (${js.text.length} bytes)`);
const pub = await natsClient(process.env.NATS_URL);
const c = await connect(`ws://${process.env.GW}/ws`);
await c.sub("license.img.>");
const seq = await publish(pub.js, "license.img.assigned", { batch_id: "img", license_id: "L1" });
const m = await c.nextMsg("license.img.assigned");
ok(m.seq === seq && m.data.license_id === "L1", `event: got ${JSON.stringify(m)}`);
console.log(`  event: published seq ${seq} on license.img.assigned, delivered to a WebSocket client`);
await pollUntil(async () => metricValue(await getMetrics(gw), "wsgate_delivery_stored_latency_seconds_count") >= 1, { message: "stored latency counted" });
console.log("  GET /metrics: the delivery is in wsgate_delivery_stored_latency_seconds");
await pub.close();
const stop = spawn(JSON.parse(process.env.STOP_CMD)[0], JSON.parse(process.env.STOP_CMD).slice(1), { stdio: "ignore" });
const stopped = new Promise((resolve) => stop.on("exit", resolve));
const close = await c.closed;
ok(close.code === 1001, `SIGTERM: client closed with ${close.code} ${close.reason}`);
ok((await stopped) === 0, "podman stop failed");
console.log(`  SIGTERM (podman stop): the client got close ${close.code} "${close.reason}"`);
'); then
  echo "--- container log"; "${P[@]}" logs "$ctr" 2>&1 | tail -30
  exit 1
fi
code=$("${P[@]}" inspect --format '{{.State.ExitCode}}' "$ctr")
"${P[@]}" logs "$ctr" 2>&1 | grep -q '"event":"stopped"' || { echo "image.sh: no stopped log line" >&2; exit 1; }
[ "$code" = 0 ] || { echo "image.sh: the container exited $code after SIGTERM" >&2; "${P[@]}" logs "$ctr" 2>&1 | tail -20; exit 1; }
echo "  exit code after SIGTERM: 0"

cleanup
trap - EXIT
left=$(comm -13 <(echo "$had_cg") <(cgroups) | head -3)
[ -z "$left" ] || echo "image.sh: warning: cgroup folders left behind: $left" >&2
echo "image $name $bytes bytes"
