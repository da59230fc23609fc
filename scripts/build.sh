#!/usr/bin/env bash
# Configures and builds everything (library, CLI, tests, benchmarks) in build/
# (Ninja, RelWithDebInfo, ccache when present). Extra arguments go to the build:
# scripts/build.sh --target statewire_cli
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSTATEWIRE_BUILD_TESTS=ON -DSTATEWIRE_BUILD_BENCH=ON >/dev/null
cmake --build build "$@"
