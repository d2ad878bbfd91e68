#!/usr/bin/env bash
# setup.sh: install every build, test and demo dependency from Debian's packages (idempotent).
set -euo pipefail

pkgs=(build-essential cmake pkg-config git curl ca-certificates
      libwebsockets-dev libwebsockets-evlib-ev libev-dev libnats-dev libjansson-dev
      libssl-dev zlib1g-dev libbrotli-dev libcmocka-dev nats-server clang libclang-rt-14-dev
      clang-format python3 haproxy)
# Node.js runs the integration and browser tests: Debian's, unless the machine
# already has one (a nodejs package from elsewhere that bundles npm conflicts
# with Debian's npm package).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  pkgs+=(nodejs npm)
fi
if [ "${WSGATE_BROWSER:-0}" = 1 ]; then
  pkgs+=(chromium)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "setup: all dependencies present"
