#!/usr/bin/env bash
# Side by side, in one run: `cp` of a big QEMU stream against every
# section-at-a-time conversion of it among qemu and framed (uncompressed,
# zstd, lz4), to JSON, from a pipe, and `cat | analyze -` against
# `analyze FILE` (and the pipe floor `cat | cat`), each with its wall time,
# CPU time and peak RSS (GNU time). Every
# conversion's output is checked: back to qemu it must equal the input.
#
# usage: bench/compare_streaming.sh STREAM [BUILD_DIR]
#   STREAM is made first if it does not exist (1 GiB of random guest RAM by
#   default, through tools/qemu/qemu-save; QEMU's own save time is then
#   printed too). Never commit it. RAM_MIB=1024 sets the size, RUNS=1 the
#   runs per command (the table shows the fastest), SKIP_JSON=1 skips the
#   JSON rows (the JSON of 1 GiB of RAM is 2.2 GB). Outputs go to a temporary
#   directory beside STREAM (same file system as cp), removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stream=${1:?usage: compare_streaming.sh STREAM [BUILD_DIR]}
build=${2:-$root/build}
sw=$build/statewire
tools=$root/tools/qemu
ram_mib=${RAM_MIB:-1024}
runs=${RUNS:-1}
[[ -x $sw ]] || { echo "compare_streaming: build $sw first" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "compare_streaming: GNU time is needed (Debian: time)" >&2; exit 2; }

if [[ ! -e $stream ]]; then
  echo "== making $stream (${ram_mib} MiB of random RAM); QEMU's own save:"
  "$tools/qemu-save" "$stream" --ram-random "$ram_mib" -- -machine pc-i440fx-7.2 -accel tcg \
    -nodefaults -display none -m "$ram_mib" -vga none
fi
size=$(stat -c %s "$stream")
work_dir=${WORK_DIR:-/dev/shm}
[[ -d $work_dir ]] || work_dir=$(dirname "$(realpath "$stream")")
work=$(mktemp -d "$work_dir/statewire-stream-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "stream: $stream ($size bytes); $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"

# Warm the page cache so every row reads from memory.
cat "$stream" > /dev/null

# measure NAME COMMAND...: best wall time of $runs and its peak RSS.
printf '%-40s %8s %7s %8s %8s\n' "command" "wall s" "x cp" "cpu s" "RSS MiB"
cp_s=""
measure() {
  local name=$1; shift
  local best="" rss="" cpu=""
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -o "$work/t" -f '%e %M %U %S' bash -c "$*" || { echo "$name: FAILED" >&2; exit 1; }
    read -r s k u y < "$work/t"
    if [[ -z $best ]] || awk "BEGIN{exit !($s < $best)}"; then best=$s; rss=$k; cpu=$(awk "BEGIN{print $u + $y}"); fi
  done
  [[ -n $cp_s ]] || cp_s=$best
  printf '%-40s %8.2f %7.2f %8.2f %8.1f\n' "$name" "$best" "$(awk "BEGIN{print $best / ($cp_s > 0 ? $cp_s : 0.01)}")" \
    "$cpu" "$(awk "BEGIN{print $rss / 1024}")"
}

f=$work/out
# same FILE: the output must be the input's bytes; then it goes.
same() { cmp "$stream" "$1" || { echo "compare_streaming: $1 differs from the input" >&2; exit 1; }; rm -f "$1"; }
measure "cp (the floor)"                    "cp '$stream' '$f.cp'"
rm -f "$f.cp"
measure "qemu -> framed"                    "'$sw' convert '$stream' '$f.fr' --to framed"
measure "framed -> qemu"                    "'$sw' convert '$f.fr' '$f.mig' --to qemu"
same "$f.mig"
for c in zstd lz4; do
  measure "qemu -> framed --compress $c"    "'$sw' convert '$stream' '$f.$c' --to framed --compress $c"
  measure "framed $c -> qemu"               "'$sw' convert '$f.$c' '$f.mig' --to qemu"
  same "$f.mig"
  rm -f "$f.$c"
done
measure "framed -> framed --compress zstd"  "'$sw' convert '$f.fr' '$f.zstd' --to framed --compress zstd"
measure "framed zstd -> framed --compress lz4" "'$sw' convert '$f.zstd' '$f.lz4' --to framed --compress lz4"
"$sw" convert "$f.lz4" "$f.mig" --to qemu
same "$f.mig"
rm -f "$f.zstd" "$f.lz4"
measure "qemu -> qemu"                      "'$sw' convert '$stream' '$f.mig' --to qemu"
same "$f.mig"
measure "cat | convert - - --to framed"     "cat '$stream' | '$sw' convert - - --to framed > '$f.2.fr'"
cmp "$f.fr" "$f.2.fr" || { echo "compare_streaming: framed from a pipe differs" >&2; exit 1; }
rm -f "$f.2.fr"
measure "cat | convert - - --to qemu"       "cat '$f.fr' | '$sw' convert - - --to qemu > '$f.mig'"
same "$f.mig"
if [[ -z ${SKIP_JSON:-} ]]; then
  measure "qemu -> json"                    "'$sw' convert '$stream' '$f.json' --to json"
  rm -f "$f.json"
  measure "framed -> json"                  "'$sw' convert '$f.fr' '$f.json' --to json"
  "$sw" convert "$stream" - --to json | cmp - "$f.json" || { echo "json from framed differs" >&2; exit 1; }
  rm -f "$f.json"
fi
measure "analyze FILE"                      "'$sw' analyze '$stream' > /dev/null"
measure "cat FILE | analyze -"              "cat '$stream' | '$sw' analyze - > /dev/null"
# The floor of anything reading a pipe: cat copies the file into the pipe and
# the reader copies it out, where `analyze FILE` maps the page cache and copies nothing.
measure "cat FILE | cat > /dev/null"        "cat '$stream' | cat > /dev/null"
