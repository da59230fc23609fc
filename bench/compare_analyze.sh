#!/usr/bin/env bash
# Side by side, in one run: `statewire analyze` against QEMU 7.2's own
# scripts/analyze-migration.py and against `cat STREAM > /dev/null` (the
# floor: the bytes have to be read once), on a freshly made stream holding
# 1 GiB of random guest RAM, then --extract-ram against `-x`, then every corpus
# stream whole process to whole process. Everything is made under a temporary
# directory and removed at the end.
#
# usage: bench/compare_analyze.sh [BUILD_DIR]
#   STATEWIRE_ANALYZE_MIGRATION_PY=/path/to/analyze-migration.py to use a copy
#   already unpacked; otherwise Debian's QEMU source package is fetched with
#   `apt-get source qemu` into the temporary directory (needs a deb-src line).
#   RAM_MIB=1024 (size of the random-RAM stream), RUNS=5, SKIP_BIG=1 (corpus only).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
sw=$build/statewire
tools=$root/tools/qemu
corpus=$build/corpus/qemu-7.2   # unpacked by the build from tests/data/qemu-7.2
ram_mib=${RAM_MIB:-1024}
runs=${RUNS:-5}
for t in hyperfine python3 qemu-system-x86_64; do
  command -v "$t" >/dev/null || { echo "compare_analyze: $t is needed" >&2; exit 2; }
done
[[ -x $sw ]] || { echo "compare_analyze: build $sw first" >&2; exit 2; }

work=$(mktemp -d /tmp/statewire-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

py=${STATEWIRE_ANALYZE_MIGRATION_PY:-}
if [[ -z $py ]]; then
  echo "== fetching QEMU's source package for analyze-migration.py"
  (cd "$work" && mkdir src && cd src && apt-get source -qq qemu >/dev/null 2>&1) || {
    echo "compare_analyze: apt-get source qemu failed; add a deb-src line, e.g." >&2
    echo "  Types: deb-src / URIs: http://deb.debian.org/debian / Suites: bookworm / Components: main" >&2
    exit 2
  }
  py=$(ls "$work"/src/qemu-*/scripts/analyze-migration.py | head -1)
fi
echo "analyze-migration.py: $py"

if [[ -z ${SKIP_BIG:-} ]]; then
stream=$work/ram-${ram_mib}m.mig
echo "== making $stream (${ram_mib} MiB of random RAM)"
"$tools/qemu-save" "$stream" --ram-random "$ram_mib" -- -machine pc-i440fx-7.2 -accel tcg \
  -nodefaults -display none -m "$ram_mib" -vga none
ls -l "$stream"

echo "== analyze, ${ram_mib} MiB random RAM (page cache warm)"
hyperfine --warmup 1 --runs "$runs" --export-markdown "$work/analyze.md" \
  -n "cat > /dev/null" "cat '$stream' > /dev/null" \
  -n "statewire analyze" "'$sw' analyze '$stream' > /dev/null" \
  -n "statewire analyze --format json" "'$sw' analyze --format json '$stream' > /dev/null" \
  -n "analyze-migration.py -d state" "python3 '$py' -f '$stream' -d state > /dev/null"
cat "$work/analyze.md"

echo "== RAM extraction"
mkdir -p "$work/x-sw" "$work/x-py"
hyperfine --warmup 1 --runs 3 --export-markdown "$work/extract.md" \
  --prepare "rm -rf '$work/x-sw' '$work/x-py'; mkdir -p '$work/x-sw' '$work/x-py'" \
  -n "statewire analyze --extract-ram" "'$sw' analyze '$stream' --extract-ram '$work/x-sw' > /dev/null 2>&1" \
  -n "analyze-migration.py -x" "cd '$work/x-py' && python3 '$py' -f '$stream' -x > /dev/null"
cat "$work/extract.md"
"$sw" analyze "$stream" --extract-ram "$work/x-sw" > /dev/null 2>&1
(cd "$work/x-py" && python3 "$py" -f "$stream" -x > /dev/null)
cmp "$work/x-sw/sw-ram" "$work/x-py/sw-ram" && echo "extracted sw-ram: identical to the script's"
rm -rf "$work/x-sw" "$work/x-py" "$stream"
fi

echo "== corpus streams, whole process (state JSON both sides)"
for f in "$corpus"/*.mig; do
  case $f in *novmdesc*) continue ;; esac  # the script cannot read streams without a trailer
  hyperfine --warmup 2 --runs "$runs" --export-markdown "$work/c.md" -N \
    -n "statewire $(basename "$f")" "'$sw' analyze --format json '$f'" \
    -n "analyze-migration.py" "python3 '$py' -f '$f' -d state" >/dev/null
  grep -E '^\|' "$work/c.md" | tail -2
done
