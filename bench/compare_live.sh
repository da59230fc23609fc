#!/usr/bin/env bash
# Side by side, in one run: bulk memory over TCP loopback.
#   - a plain socket copy of the same bytes (1 and 2 streams),
#   - statewire's RamSender/RamReceiver (1 and 2 data channels), without page
#     CRCs (a session's default on sockets) and with them (--page-crc),
#   - QEMU 7.2's own migration of the same amount of random guest RAM
#     (single stream, and multifd with 2 channels) through
#     bench/qemu_migrate_speed.py,
#   - the downtime of a live transfer while a guest thread dirties 50 MB/s
#     with a 100 ms target (bench/ram_downtime_bench).
# Every figure is the median of REPS repetitions (in-process rows
# interleaved at random, so a busy machine hurts them alike).
#
# usage: REPS=3 bench/compare_live.sh [BUILD_DIR]
#   REPS (default 3) repetitions of every row, QEMU's included (after one
#   warm-up run each); SW_BENCH_MIB=1024 the size; SKIP_QEMU=1 leaves QEMU out.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
mib=${SW_BENCH_MIB:-1024}
reps=${REPS:-3}
export SW_BENCH_MIB=$mib
for b in ram_transfer_bench ram_downtime_bench; do
  [[ -x $build/bench/$b ]] || { echo "compare_live: build the $b target first" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/statewire-live-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "== $mib MiB over TCP loopback; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg); medians of $reps"

"$build/bench/ram_transfer_bench" --benchmark_format=json --benchmark_out="$work/transfer.json" \
  --benchmark_out_format=json --benchmark_filter='PlainSocketCopy|RamTransfer/channels:[12]/compression:0/remap:1/' \
  --benchmark_repetitions="$reps" --benchmark_enable_random_interleaving=true >/dev/null
"$build/bench/ram_downtime_bench" --benchmark_format=json --benchmark_out="$work/downtime.json" \
  --benchmark_out_format=json --benchmark_repetitions="$reps" >/dev/null

q1=0 q2=0
if [[ -z ${SKIP_QEMU:-} ]]; then
  "$root/bench/qemu_migrate_speed.py" --runs "$reps" "$mib" 0 | tee "$work/q1.txt"
  "$root/bench/qemu_migrate_speed.py" --runs "$reps" "$mib" 2 | tee "$work/q2.txt"
  q1=$(sed -n 's/^median GB\/s: //p' "$work/q1.txt")
  q2=$(sed -n 's/^median GB\/s: //p' "$work/q2.txt")
fi

python3 - "$work/transfer.json" "$work/downtime.json" "$q1" "$q2" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["benchmarks"]
d = json.load(open(sys.argv[2]))["benchmarks"]
q = {1: float(sys.argv[3]), 2: float(sys.argv[4])}
def median(rows):
    # With one repetition Google Benchmark writes no aggregates.
    agg = [b for b in rows if b.get("aggregate_name") == "median"]
    return agg if agg else [b for b in rows if b.get("run_type", "iteration") == "iteration"]
rate = {b["run_name"]: b["bytes_per_second"] / 1e9 for b in median(t)}
def find(prefix):
    for name, r in rate.items():
        if name.startswith(prefix):
            return r
    return 0.0
print()
print(f"{'channels':>8} {'plain copy':>10} {'statewire':>10} {'vs plain':>8} {'vs QEMU':>8}"
      f" {'--page-crc':>10} {'vs plain':>8} {'vs QEMU':>8} {'QEMU 7.2':>9}   (GB/s, medians)")
for n in (1, 2):
    plain = find(f"BM_PlainSocketCopy/streams:{n}/")
    ours = find(f"BM_RamTransfer/channels:{n}/compression:0/remap:1/crc:0/")
    crc = find(f"BM_RamTransfer/channels:{n}/compression:0/remap:1/crc:1/")
    qemu = q[n]
    vq = lambda x: f"{x / qemu:.2f}x" if qemu else "-"
    pct = lambda x: f"{100 * x / plain:.0f}%" if plain else "-"
    print(f"{n:>8} {plain:>10.2f} {ours:>10.2f} {pct(ours):>8} {vq(ours):>8}"
          f" {crc:>10.2f} {pct(crc):>8} {vq(crc):>8} {qemu:>9.2f}")
print("(statewire: no page CRCs, the end-to-end digest checks memory before commit; QEMU with 1")
print(" channel is its classic single stream, with 2 multifd)")
print()
print(f"{'downtime run':<44} {'rounds':>6} {'final MiB':>10} {'expected ms':>12} {'verify ms':>10} {'downtime ms':>12}")
for b in median(d):
    name = b.get("run_name", b["name"]).split("/iterations")[0]
    print(f"{name:<44} {b['rounds']:>6.1f} {b['final_MiB']:>10.1f} "
          f"{b['expected_ms']:>12.1f} {b['verify_ms']:>10.1f} {b['downtime_ms']:>12.1f}")
print("(tracker:1 is uffd-wp, tracker:0 the program-driven bitmap; crc:1 page CRCs on the wire;")
print(" 50 MB/s dirtied, 100 ms target; verify ms is inside the downtime)")
PY
