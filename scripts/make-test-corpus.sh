#!/usr/bin/env bash
# Makes the real QEMU test corpus in tests/data/qemu-<version>/ with the QEMU on
# PATH (Debian 12: qemu-system-x86 7.2), or the one given by --qemu.
#
#   scripts/make-test-corpus.sh [--qemu BIN] [--out DIR] [--only NAME]... [--dumps-only]
#                               [--machines M1,M2,...]
#
# Each stream is stored zstd-compressed as NAME.mig.zst, beside NAME.mig.args (the
# QEMU arguments that load it) and NAME.mig.meta.txt (QEMU's version, its migration
# statistics, the uncompressed size and sha256). `-dump-vmstate` schema dumps are
# stored as vmstate-MACHINE.json.zst, one per machine type: by default pc-i440fx-7.2 and
# pc-q35-5.2 for QEMU 7.2, and pc-i440fx-7.2, pc-q35-7.2, pc-i440fx-10.2 and pc-q35-10.2
# for QEMU 10.2; --machines replaces that list. The build decompresses all of them into
# build/corpus/ for the tests. Paused streams come out byte-identical on every run;
# "runningNs" streams and RAM contents differ from run to run.
# Needs qemu-system-x86, python3 and zstd (scripts/install-deps.sh --with-qemu).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
qemu=${QEMU:-qemu-system-x86_64}
out=""
only=()
dumps_only=0
machines=""
while (($#)); do
  case "$1" in
    --qemu) qemu=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only+=("$2"); shift 2 ;;
    --dumps-only) dumps_only=1; shift ;;
    --machines) machines=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "make-test-corpus: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v "$qemu" >/dev/null || { echo "make-test-corpus: $qemu not found (scripts/install-deps.sh --with-qemu)" >&2; exit 1; }
version=$("$qemu" --version | sed -n 's/.*version \([0-9]*\.[0-9]*\).*/\1/p' | head -1)
out=${out:-$root/tests/data/qemu-$version}
mkdir -p "$out"
save="$root/tools/qemu/qemu-save"
export QEMU=$qemu

wanted() {  # no --only: everything
  ((${#only[@]} == 0)) && return 0
  local n; for n in "${only[@]}"; do [[ $n == "$1" ]] && return 0; done; return 1
}

# stream NAME [qemu-save options] -- QEMU-ARGS...
stream() {
  local name=$1; shift
  wanted "$name" || return 0
  echo "== $name"
  "$save" "$out/$name.mig" "$@"
  zstd -q -19 -f --rm "$out/$name.mig" -o "$out/$name.mig.zst"
}

dump() {
  local machine=$1
  wanted "vmstate-$machine" || return 0
  echo "== vmstate-$machine.json"
  "$qemu" -machine "$machine" -display none -dump-vmstate "$out/vmstate-$machine.json"
  # The dump names the machine type it was made for.
  python3 - "$out/vmstate-$machine.json" "$machine" <<'PY'
import json, sys
named = json.load(open(sys.argv[1]))["vmschkmachine"]["Name"]
if named != sys.argv[2]:
    sys.exit(f"make-test-corpus: {sys.argv[1]} names machine {named}, not {sys.argv[2]}")
PY
  zstd -q -19 -f --rm "$out/vmstate-$machine.json" -o "$out/vmstate-$machine.json.zst"
}

C=(-accel tcg -nodefaults -display none)
N=(-netdev user,id=n0,restrict=on)

if ((!dumps_only)); then
  # Old machine type (compat properties change what is sent); rtl8139, cirrus, serial.
  stream i440fx-2.12-rtl8139-paused -- -machine pc-i440fx-2.12 "${C[@]}" -m 32 -vga cirrus \
    "${N[@]}" -device rtl8139,netdev=n0,mac=52:54:00:ab:cd:01 -chardev null,id=s0 -device isa-serial,chardev=s0
  # virtio-net and virtio-blk on PCI, EHCI with a USB keyboard; firmware ran 2 s.
  stream i440fx-4.2-virtio-running2s --run 2 -- -machine pc-i440fx-4.2 "${C[@]}" -m 64 -vga std \
    "${N[@]}" -device virtio-net-pci,netdev=n0,mac=52:54:00:ab:cd:02 \
    -blockdev driver=null-co,node-name=nul0,size=67108864 -device virtio-blk-pci,drive=nul0 \
    -device usb-ehci,id=ehci -device usb-kbd,bus=ehci.0
  # Q35 with AHCI and a CD drive, Intel HDA with a codec, watchdog, pcnet; ran 2 s.
  stream q35-5.2-ahci-hda-running2s --run 2 -- -machine pc-q35-5.2 "${C[@]}" -m 64 -vga std \
    -device ide-cd,bus=ide.0 -audiodev none,id=snd0 -device intel-hda -device hda-duplex,audiodev=snd0 \
    -device i6300esb "${N[@]}" -device pcnet,netdev=n0,mac=52:54:00:ab:cd:03
  # ISA-only PC: no PCI; ne2000 on ISA.
  stream isapc-ne2k-paused -- -machine isapc "${C[@]}" -m 16 -vga std \
    "${N[@]}" -device ne2k_isa,netdev=n0,mac=52:54:00:ab:cd:04 -chardev null,id=s0 -device isa-serial,chardev=s0
  # microvm: virtio-mmio, very few sections.
  stream microvm-virtio-paused -- -machine microvm "${C[@]}" -m 32 \
    "${N[@]}" -device virtio-net-device,netdev=n0,mac=52:54:00:ab:cd:05
  # No configuration section and no section footers.
  stream i440fx-2.4-legacy-paused -- -machine pc-i440fx-2.4 "${C[@]}" -m 32 -vga std \
    -device piix3-usb-uhci -device lsi53c895a \
    -global migration.send-configuration=off -global migration.send-section-footer=off
  # No description trailer: sections are decoded from a schema dump; vmxnet3, megasas.
  stream q35-7.2-novmdesc-running1s --run 1 -- -machine pc-q35-7.2,suppress-vmdesc=on "${C[@]}" -m 32 -vga std \
    "${N[@]}" -device vmxnet3,netdev=n0,mac=52:54:00:ab:cd:06 -device megasas
  # Devices whose state differs between QEMU 7.2 and 10.2 (built-in repairs in
  # src/transform/qemu_builtin.cpp): e1000e, the ESP SCSI controller am53c974, pvscsi.
  stream q35-7.2-e1000e-esp-pvscsi-paused -- -machine pc-q35-7.2 "${C[@]}" -m 32 -vga none \
    "${N[@]}" -device e1000e,netdev=n0,mac=52:54:00:ab:cd:07 -device am53c974 -device pvscsi
  # virtio-iommu on Q35: its own state is GTrees and a QLIST inside the "virtio" VMStateInfo.
  stream q35-7.2-virtio-iommu-paused -- -machine pc-q35-7.2 "${C[@]}" -m 32 -vga none \
    -device virtio-iommu-pci
  # 4 MiB of pseudo-random guest RAM: full pages rather than zero pages.
  stream i440fx-7.2-random-ram-4m-paused --ram-random 4 -- -machine pc-i440fx-7.2 "${C[@]}" -m 4 -vga none
fi

if [[ -z $machines ]]; then
  case $version in
    10.2) machines=pc-i440fx-7.2,pc-q35-7.2,pc-i440fx-10.2,pc-q35-10.2 ;;
    *) machines=pc-i440fx-7.2,pc-q35-5.2 ;;
  esac
fi
IFS=, read -ra machine_list <<<"$machines"
for m in "${machine_list[@]}"; do dump "$m"; done
echo "corpus in $out"
