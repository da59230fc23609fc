#!/usr/bin/env bash
# Installs what statewire needs on Debian 12 (apt-get; sudo when not root).
# Usage: scripts/install-deps.sh [--with-tests] [--with-qemu] [--with-fuzz]
#   (none)        the library and the statewire tool
#   --with-tests  + GoogleTest, Google Benchmark, cereal, zstd, iproute2 (netns migration test),
#                 chromium (the report_browser test loads HTML reports headless)
#   --with-qemu   + the tests' and benchmarks' needs and a real QEMU (integration tests)
#   --with-fuzz   + the tests' needs, clang, its libFuzzer runtime and llvm-symbolizer
#                 (scripts/fuzz-ci.sh; the ASan+UBSan tests use GCC's runtimes, from build-essential)
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config git
      libexpected-dev libfmt-dev nlohmann-json3-dev libcli11-dev
      libzstd-dev liblz4-dev)
tests=0 qemu=0 fuzz=0
for a in "$@"; do
  case "$a" in
    --with-tests) tests=1 ;;
    --with-qemu) tests=1 qemu=1 ;;
    --with-fuzz) tests=1 fuzz=1 ;;
    *) echo "install-deps: unknown option $a" >&2; exit 2 ;;
  esac
done
((tests)) && pkgs+=(libgtest-dev libgmock-dev libbenchmark-dev libcereal-dev zstd python3 iproute2 chromium)
((qemu)) && pkgs+=(qemu-system-x86 hyperfine time)
((fuzz)) && pkgs+=(clang libclang-rt-dev llvm)  # llvm: llvm-symbolizer, for readable sanitizer reports
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
