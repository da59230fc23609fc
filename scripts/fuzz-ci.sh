#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 60) under ASan+UBSan
# (CMake preset `libfuzzer`, clang, build-fuzz/), JOBS targets at a time
# (default: the number of cores; each target is one process). Each target
# starts from its seeds in tests/fuzz/seeds/<name>/ plus, for qemu_stream, the
# real QEMU corpus streams under 200 KB (bigger ones slow ASan+UBSan runs to a
# few executions a second), with the same limits the CLI uses. A crash,
# sanitizer report, leak, timeout or out-of-memory fails the script; the input
# is kept under build-fuzz/findings/<name>/ (check it in as a seed: it becomes
# a regression test through the target's CTest replay), its log beside it.
# Usage: scripts/fuzz-ci.sh [SECONDS] [TARGET...]
#   STATEWIRE_CORPUS: the QEMU corpus directory (default: the build's unpacked
#   copy of tests/data/qemu-7.2, build-fuzz/corpus/qemu-7.2)
#   STATEWIRE_FUZZ_JOBS: targets run at once (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
corpus="${STATEWIRE_CORPUS:-build-fuzz/corpus/qemu-7.2}"
jobs="${STATEWIRE_FUZZ_JOBS:-$(nproc)}"
targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in tests/fuzz/*_fuzz.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

cmake --preset libfuzzer >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target statewire_corpus "${targets[@]}"

# One target: its own scratch corpus, its seeds, its findings directory.
fuzz_one() {
  local t=$1 name="${1%_fuzz}"
  local work="build-fuzz/fuzz-work/$name" findings="build-fuzz/findings/$name"
  local extra="build-fuzz/fuzz-seeds/$name"  # corpus files, copied (libFuzzer may write to seed dirs)
  rm -rf "$findings"
  mkdir -p "$work" "$findings" "$extra"
  if [[ -d "$corpus" && "$name" == qemu_stream ]]; then
    find "$corpus" -name '*.mig' -size -200k -exec cp -f {} "$extra/" \;
  fi
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "build-fuzz/tests/fuzz/$t" "$work" "tests/fuzz/seeds/$name" "$extra" -max_total_time="$secs" \
    -timeout=10 -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 \
    -artifact_prefix="$findings/" >"$findings.log" 2>&1
}

pids=() names=()
failed=()
reap() {  # waits for the oldest running target and records its outcome
  local rc=0 t=${names[0]}
  wait "${pids[0]}" || rc=$?
  pids=("${pids[@]:1}") names=("${names[@]:1}")
  local name="${t%_fuzz}"
  echo "== $t (${secs}s): $(grep -E '^stat::number_of_executed_units' "build-fuzz/findings/$name.log" |
    awk '{print $2}') executions, rc $rc"
  grep -E '^SUMMARY|runtime error' "build-fuzz/findings/$name.log" || true
  if ((rc != 0)) || compgen -G "build-fuzz/findings/$name/*" >/dev/null; then failed+=("$t"); fi
}
for t in "${targets[@]}"; do
  ((${#pids[@]} >= jobs)) && reap
  fuzz_one "$t" &
  pids+=($!) names+=("$t")
done
while ((${#pids[@]})); do reap; done

echo "fuzz: ${#targets[@]} targets, ${secs}s each, ${jobs} at a time"
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
if ((${#failed[@]})); then
  for t in "${failed[@]}"; do
    name="${t%_fuzz}"
    echo "fuzz: $t found a problem; input(s) kept in $PWD/build-fuzz/findings/$name/," \
         "log $PWD/build-fuzz/findings/$name.log" >&2
    tail -n 30 "build-fuzz/findings/$name.log" >&2
  done
  exit 1
fi
