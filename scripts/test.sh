#!/usr/bin/env bash
# Installs everything (QEMU included), builds everything, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --with-qemu
scripts/build.sh
ctest --test-dir build --output-on-failure -j2 --timeout 900
