#!/usr/bin/env bash
# Installs dependencies (with QEMU for the integration tests), builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --with-qemu
scripts/build.sh
ctest --test-dir build --output-on-failure -j2 --timeout 900
