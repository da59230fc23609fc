#!/usr/bin/env bash
# Installs what statewire needs to build, test and benchmark on Debian 12.
# Usage: scripts/install-deps.sh [--with-qemu]   (--with-qemu: the real-QEMU tests' needs)
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config git
      libexpected-dev libfmt-dev nlohmann-json3-dev libcli11-dev
      libgtest-dev libgmock-dev libbenchmark-dev libcereal-dev
      libzstd-dev liblz4-dev)
if [[ "${1:-}" == "--with-qemu" ]]; then
  pkgs+=(qemu-system-x86 python3 hyperfine)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
