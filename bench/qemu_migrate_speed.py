#!/usr/bin/env python3
"""QEMU's own live migration of random guest RAM over TCP loopback, timed.

usage: bench/qemu_migrate_speed.py [--runs N] [--qemu BIN] SIZE_MIB [CHANNELS]

Two paused QEMUs (pc-i440fx-7.2, TCG, no devices beyond the machine's) with
SIZE_MIB of guest RAM: the source's RAM is backed by a file of pseudo-random
bytes (private mapping, so every page is non-zero and sent in full), the
destination waits with -incoming defer. Bandwidth is uncapped; CHANNELS >= 1
turns on multifd with that many channels (0, the default, is the classic
single stream). The clock runs from `migrate` until both sides report
completed; throughput is RAM bytes QEMU transferred (query-migrate's
ram.transferred) per second. A warm-up run comes first and is printed apart.
The last two lines are machine-readable: `best GB/s: X` and `median GB/s: X`.
Exit status: 0 done, 1 QEMU failed, 2 bad usage.
"""
import argparse
import os
import random
import statistics
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "tools", "qemu"))
from qmp import QEMU_BINARY, Guest, QmpError  # noqa: E402

MACHINE = ["-machine", "pc-i440fx-7.2", "-accel", "tcg", "-nodefaults", "-display", "none",
           "-vga", "none", "-S"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll_status(guest, deadline):
    while True:
        info = guest.execute("query-migrate")
        status = info.get("status")
        if status in ("completed", "failed", "cancelled"):
            return info
        if time.monotonic() > deadline:
            raise QmpError(f"migration still {status} at the time limit")
        time.sleep(0.002)


def one_run(opt, ram_file):
    mib = opt.size
    src_args = MACHINE + ["-m", str(mib), "-object",
                          f"memory-backend-file,id=ram0,size={mib}M,mem-path={ram_file},share=off",
                          "-machine", "memory-backend=ram0"]
    dst_args = MACHINE + ["-m", str(mib), "-object", f"memory-backend-ram,id=ram0,size={mib}M",
                          "-machine", "memory-backend=ram0", "-incoming", "defer"]
    with Guest(src_args, binary=opt.qemu) as src, Guest(dst_args, binary=opt.qemu) as dst:
        for g in (src, dst):
            g.execute("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
            if opt.channels:
                g.execute("migrate-set-capabilities",
                          capabilities=[{"capability": "multifd", "state": True}])
                g.execute("migrate-set-parameters", **{"multifd-channels": opt.channels})
        uri = f"tcp:127.0.0.1:{free_port()}"
        dst.execute("migrate-incoming", uri=uri)
        t0 = time.monotonic()
        src.execute("migrate", uri=uri)
        deadline = t0 + 120
        info = poll_status(src, deadline)
        dinfo = poll_status(dst, deadline)
        secs = time.monotonic() - t0
        if info.get("status") != "completed" or dinfo.get("status") != "completed":
            raise QmpError("migration failed: " + str(info.get("error-desc", info.get("status"))))
        return secs, info["ram"]["transferred"]


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("size", type=int)
    ap.add_argument("channels", type=int, nargs="?", default=0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--qemu", default=QEMU_BINARY)
    opt = ap.parse_args()
    if opt.size <= 0 or opt.channels < 0 or opt.runs <= 0:
        ap.print_usage(sys.stderr)
        return 2
    fd, ram_file = tempfile.mkstemp(prefix="statewire-ram-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        rng = random.Random(42)
        with os.fdopen(fd, "wb") as f:
            for _ in range(opt.size):
                f.write(rng.randbytes(1 << 20))
        best = 0.0
        rates = []
        for i in range(opt.runs + 1):
            secs, sent = one_run(opt, ram_file)
            rate = sent / secs / 1e9
            label = "warm-up" if i == 0 else f"run {i}"
            if i:
                best = max(best, rate)
                rates.append(rate)
            print(f"qemu {label}: {opt.size} MiB, {'multifd ' + str(opt.channels) if opt.channels else 'single stream'}:"
                  f" {secs:.3f} s, {rate:.2f} GB/s ({sent} bytes)", flush=True)
        print(f"best GB/s: {best:.3f}")
        print(f"median GB/s: {statistics.median(rates):.3f}")
        return 0
    finally:
        os.unlink(ram_file)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except QmpError as e:
        print(f"qemu_migrate_speed: {e}", file=sys.stderr)
        sys.exit(1)
