#!/usr/bin/env python3
"""Side by side, in one run: a live QEMU 7.2 migration of random guest RAM
QEMU -> QEMU directly, and QEMU -> `statewire proxy` -> QEMU, over TCP
loopback. Prints QEMU's own figures (query-migrate: total-time, downtime,
transferred) for both and the ratios, then the proxy's summary.

usage: bench/compare_proxy.py [--ram-mib 1024] [--build BUILD_DIR] [--rename]
  --rename adds a pci-serial at slot 5 on the source and slot 6 on the
  destination and runs the proxy with --rename, so the device sections are
  held back, decoded, rewritten and re-encoded (the downtime cost of a
  rewriting proxy); the direct run then migrates to slot 5 (no rename).

Guest RAM is a private mapping of a file of random bytes (full pages, no
zero pages), both guests paused as QEMU's own bench does, no bandwidth cap,
return-path on. Every QEMU and the proxy are ended on the way out.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "qemu"))
from qmp import Guest  # noqa: E402

MACHINE = ["-machine", "pc-i440fx-7.2", "-accel", "tcg", "-nodefaults", "-display", "none"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def one(opt, ram_file, through_proxy, rename):
    size = opt.ram_mib
    src_args = MACHINE + ["-m", str(size), "-object",
                          f"memory-backend-file,id=r,size={size}M,mem-path={ram_file},share=off",
                          "-machine", "memory-backend=r", "-S"]
    dst_args = MACHINE + ["-m", str(size), "-object", f"memory-backend-ram,id=r,size={size}M",
                          "-machine", "memory-backend=r", "-S"]
    if rename:
        src_args += ["-device", "pci-serial,addr=5"]
        dst_args += ["-device", f"pci-serial,addr={6 if through_proxy else 5}"]
    port = free_port()
    things = []
    proxy = None
    try:
        src = Guest(src_args)
        things.append(src)
        dst = Guest(dst_args, extra=["-incoming", f"tcp:127.0.0.1:{port}"])
        things.append(dst)
        src.connect()
        dst.connect()
        for g in (src, dst):
            g.execute("migrate-set-capabilities",
                      capabilities=[{"capability": "return-path", "state": True}])
        src.execute("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
        uri = f"tcp:127.0.0.1:{port}"
        if through_proxy:
            lport = free_port()
            argv = [os.path.join(opt.build, "statewire"), "proxy", "--listen",
                    f"tcp:127.0.0.1:{lport}", "--to", uri, "--format", "json", "--quiet"]
            if rename:
                argv += ["--rename", "0000:00:05.0/pci-serial=0000:00:06.0/pci-serial"]
            proxy = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            line = proxy.stderr.readline().decode()
            if "listening" not in line:
                raise RuntimeError("proxy did not start: " + line)
            uri = f"tcp:127.0.0.1:{lport}"
        src.execute("migrate", uri=uri)
        info = src.wait_migration(timeout=600)
        summary = None
        if proxy:
            out, _ = proxy.communicate(timeout=60)
            summary = json.loads(out.decode())
        if info["status"] != "completed":
            raise RuntimeError(f"migration {info['status']}: {info.get('error-desc')}")
        return info, summary
    finally:
        if proxy and proxy.poll() is None:
            proxy.kill()
            proxy.wait()
        for g in reversed(things):
            g.close()


def main():
    p = argparse.ArgumentParser(usage=__doc__)
    p.add_argument("--ram-mib", type=int, default=1024)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--rename", action="store_true")
    opt = p.parse_args()
    fd, ram_file = tempfile.mkstemp(prefix="ram-", suffix=".bin")
    try:
        with os.fdopen(fd, "wb") as f:
            for _ in range(opt.ram_mib):
                f.write(os.urandom(1 << 20))
        d, _ = one(opt, ram_file, False, opt.rename)
        x, s = one(opt, ram_file, True, opt.rename)
        print(f"{opt.ram_mib} MiB random guest RAM, TCP loopback, return-path on"
              f"{', pci-serial renamed by the proxy' if opt.rename else ''}")
        print(f"{'':10} {'total ms':>10} {'downtime ms':>12} {'setup ms':>9} {'transferred':>14}")
        for name, i in (("direct", d), ("proxy", x)):
            print(f"{name:10} {i['total-time']:>10} {i['downtime']:>12} {i.get('setup-time', 0):>9} "
                  f"{i['ram']['transferred']:>14}")
        print(f"ratio      {x['total-time'] / d['total-time']:>10.3f} "
              f"{x['downtime'] / max(d['downtime'], 1):>12.3f}")
        print(f"proxy: held {s['held_bytes']} bytes for {s['held_seconds'] * 1e3:.1f} ms, "
              f"{s['transform_seconds'] * 1e3:.1f} ms transforming; {s['bytes_out']} bytes forwarded "
              f"in {s['seconds']:.3f} s; rewritten {s['rewritten']}")
        return 0
    finally:
        os.unlink(ram_file)


if __name__ == "__main__":
    sys.exit(main())
