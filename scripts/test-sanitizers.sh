#!/usr/bin/env bash
# The whole test suite under ASan+UBSan (CMake preset `asan`, build-asan/):
# library, CLI, unit and corpus tests, fuzz replays. Not the real-QEMU tests
# (label qemu), the package test or the benchmarks: they add build time and
# nothing a sanitizer would see. A sanitizer report fails the test it is in.
# Usage: scripts/test-sanitizers.sh [JOBS]   (default: the number of cores)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${1:-$(nproc)}"
cmake --preset asan
cmake --build --preset asan -j "$jobs"
ctest --preset asan -j "$jobs"
