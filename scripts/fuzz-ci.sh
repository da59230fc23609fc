#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 60) under ASan+UBSan
# (CMake preset `libfuzzer`, clang, build-fuzz/). Each target starts from its
# seeds in tests/fuzz/seeds/<name>/ plus, for qemu_stream, the real QEMU
# corpus streams under 200 KB (bigger ones slow ASan+UBSan runs to a few
# executions a second), with the same limits the CLI uses. A crash, sanitizer report, leak, timeout or
# out-of-memory fails the script; the input is kept under
# build-fuzz/findings/<target>/ (check it in as a regression test).
# Usage: scripts/fuzz-ci.sh [SECONDS] [TARGET...]
#   STATEWIRE_CORPUS: the QEMU corpus directory (default: the build's unpacked
#   copy of tests/data/qemu-7.2, build-fuzz/corpus/qemu-7.2)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
corpus="${STATEWIRE_CORPUS:-build-fuzz/corpus/qemu-7.2}"
targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in tests/fuzz/*_fuzz.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

cmake --preset libfuzzer >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target statewire_corpus "${targets[@]}"

failed=()
for t in "${targets[@]}"; do
  name="${t%_fuzz}"
  work="build-fuzz/fuzz-work/$name"      # the corpus libFuzzer grows
  findings="build-fuzz/findings/$name"
  mkdir -p "$work" "$findings"
  seeds=("tests/fuzz/seeds/$name")
  extra="build-fuzz/fuzz-seeds/$name"    # corpus files, copied (libFuzzer may write to seed dirs)
  mkdir -p "$extra"
  if [[ -d "$corpus" ]]; then
    case "$name" in
      qemu_stream) find "$corpus" -name '*.mig' -size -200k -exec cp -f {} "$extra/" \; ;;
    esac
  fi
  seeds+=("$extra")
  echo "== $t: ${secs}s"
  rc=0
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "build-fuzz/tests/fuzz/$t" "$work" "${seeds[@]}" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 -artifact_prefix="$findings/" \
    >"build-fuzz/findings/$name.log" 2>&1 || rc=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)|runtime error' \
    "build-fuzz/findings/$name.log" || true
  if ((rc != 0)) || compgen -G "$findings/*" >/dev/null; then
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzzing found problems in: ${failed[*]} (inputs under build-fuzz/findings/)"
  exit 1
fi
echo "fuzzing: no findings in ${#targets[@]} targets, ${secs}s each"
