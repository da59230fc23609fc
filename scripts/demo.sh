#!/usr/bin/env bash
# Installs dependencies, builds, and runs the main job on the shipped sample data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/statewire demo
