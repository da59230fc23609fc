#!/usr/bin/env bash
# Installs what the statewire tool needs, builds the library and the CLI only,
# and runs the main job (`statewire demo`) on the example VM model.
# One line per step here; every detail goes to build/demo-setup.log.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
log=$PWD/build/demo-setup.log
: > "$log"

step() {  # step N TITLE COMMAND...
  local n=$1 title=$2; shift 2
  local t0=$SECONDS
  printf '[%s/4] %-40s' "$n" "$title"
  if "$@" >>"$log" 2>&1; then
    printf 'done (%d s)\n' $((SECONDS - t0))
  else
    printf 'FAILED\n'
    echo "--- last lines of $log:" >&2
    tail -n 25 "$log" >&2
    exit 1
  fi
}

step 1 "dependencies (apt-get)" scripts/install-deps.sh
# -O2 without debug information: a third less compile time than RelWithDebInfo,
# and the demo needs no debugger (scripts/build.sh builds RelWithDebInfo).
step 2 "configure (cmake)" cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" -DSTATEWIRE_BUILD_TESTS=OFF -DSTATEWIRE_BUILD_BENCH=OFF
step 3 "build library and CLI (ninja)" cmake --build build --target statewire_cli
echo "[4/4] run: build/statewire demo   (setup log: build/demo-setup.log)"
echo
exec build/statewire demo
