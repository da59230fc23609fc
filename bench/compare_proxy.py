#!/usr/bin/env python3
"""Side by side: live QEMU 7.2 migrations of random guest RAM over TCP
loopback, QEMU -> QEMU directly, QEMU -> `statewire proxy` -> QEMU, and
through the proxy with `--rename` (a pci-serial at slot 5 on the source and
slot 6 on the destination: the device sections are held back, decoded,
renamed, the cost of a rewriting proxy), and with QEMU's multifd
(`--only direct-multifd,proxy-multifd`: --channels channels, the proxy with
--multifd; compared with direct-multifd). Each configuration
runs --reps times, interleaved; prints the median and the spread (min-max)
of QEMU's own figures (query-migrate: total-time, downtime) and of the
proxy's timeline (docs/proxy.md).

usage: bench/compare_proxy.py [--ram-mib 1024] [--reps 5] [--build BUILD_DIR]
                              [--only direct,proxy,rename,direct-multifd,proxy-multifd]
                              [--channels 2] [--max-bandwidth MIB_S] [--socket-buffer B]
                              [--trace]

Guest RAM is a private mapping of a file of random bytes (full pages, no
zero pages), both guests paused as QEMU's own bench does, no bandwidth cap,
return-path on; every guest has the pci-serial. Every QEMU and proxy are
ended on the way out.
"""
import argparse
import json
import os
import socket
import statistics
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


CONFIGS = ("direct", "proxy", "rename", "direct-multifd", "proxy-multifd")


# QEMU trace events that mark the end of a migration on either side.
TRACE_EVENTS = ["migration_thread_low_pending", "migration_completion_vm_stop",
                "savevm_state_complete_precopy", "migration_return_path_end_before",
                "source_return_path_thread_shut", "migration_return_path_end_after",
                "qemu_loadvm_state_post_main", "loadvm_state_cleanup",
                "process_incoming_migration_co_end", "migrate_send_rp_message"]


def trace_args(path):
    return ["-D", path, "-msg", "timestamp=on"] + [a for e in TRACE_EVENTS for a in ("-trace", e)]


def read_trace(path):
    """(seconds, event) for each traced line: '<pid>@<sec>.<usec>:<event> ...'."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            at, _, rest = line.partition(":")
            if "@" not in at:
                continue
            out.append((float(at.split("@")[1]), rest.split()[0] if rest.split() else ""))
    return out


def show_trace(src_path, dst_path, stop_offset=0.0):
    """One line per event on both sides, in ms from the source's low-pending."""
    ev = [(t, "src " + e) for t, e in read_trace(src_path)] + \
         [(t, "dst " + e) for t, e in read_trace(dst_path)]
    ev.sort()
    t0 = next((t for t, e in ev if e.endswith("migration_thread_low_pending")), ev[0][0] if ev else 0)
    seen = set()
    for t, e in ev:
        if e in seen and not e.endswith("migrate_send_rp_message"):
            continue
        seen.add(e)
        print(f"    {(t - t0) * 1e3:9.1f} ms  {e}")


def one(opt, ram_file, config):
    size = opt.ram_mib
    src_args = MACHINE + ["-m", str(size), "-object",
                          f"memory-backend-file,id=r,size={size}M,mem-path={ram_file},share=off",
                          "-machine", "memory-backend=r", "-S", "-device", "pci-serial,addr=5"]
    dst_args = MACHINE + ["-m", str(size), "-object", f"memory-backend-ram,id=r,size={size}M",
                          "-machine", "memory-backend=r", "-S",
                          "-device", f"pci-serial,addr={6 if config == 'rename' else 5}"]
    port = free_port()
    things = []
    proxy = None
    try:
        if opt.trace:
            tdir = tempfile.mkdtemp(prefix="trace-")
            src_trace, dst_trace = os.path.join(tdir, "src"), os.path.join(tdir, "dst")
            src_args += trace_args(src_trace)
            dst_args += trace_args(dst_trace)
        src = Guest(src_args)
        things.append(src)
        dst = Guest(dst_args, extra=["-incoming", f"tcp:127.0.0.1:{port}"])
        things.append(dst)
        src.connect()
        dst.connect()
        multifd = config.endswith("-multifd")
        for g in (src, dst):
            g.execute("migrate-set-capabilities",
                      capabilities=[{"capability": "return-path", "state": True}] +
                      ([{"capability": "multifd", "state": True}] if multifd else []))
            if multifd:
                g.execute("migrate-set-parameters", **{"multifd-channels": opt.channels})
        # QEMU stops the guest once the RAM left is below its measured rate x
        # downtime-limit: a faster path leaves more for the stopped phase.
        # A cap gives both paths the same rate, hence the same stopped phase.
        src.execute("migrate-set-parameters",
                    **{"max-bandwidth": opt.max_bandwidth << 20 if opt.max_bandwidth else 1 << 40})
        uri = f"tcp:127.0.0.1:{port}"
        if not config.startswith("direct"):
            lport = free_port()
            argv = [os.path.join(opt.build, "statewire"), "proxy", "--listen",
                    f"tcp:127.0.0.1:{lport}", "--to", uri, "--format", "json", "--quiet"]
            if config == "rename":
                argv += ["--rename", "0000:00:05.0/pci-serial=0000:00:06.0/pci-serial"]
            if multifd:
                argv += ["--multifd"]
            if opt.socket_buffer is not None:
                argv += ["--socket-buffer", str(opt.socket_buffer)]
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
            why = f"; proxy: {summary.get('reason')}" if summary else ""
            raise RuntimeError(f"{config}: migration {info['status']}: {info.get('error-desc')}{why}")
        if opt.trace:
            time.sleep(0.2)
            show_trace(src_trace, dst_trace)
        return info, summary
    finally:
        if proxy and proxy.poll() is None:
            proxy.kill()
            proxy.wait()
        for g in reversed(things):
            g.close()


def spread(xs):
    """median [min-max] of a list of numbers, or '-' when empty."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    d = 1 if max(xs) < 100 else 0  # transform times are a few ms
    return f"{statistics.median(xs):.{d}f} [{min(xs):.{d}f}-{max(xs):.{d}f}]"


def main():
    p = argparse.ArgumentParser(usage=__doc__)
    p.add_argument("--ram-mib", type=int, default=1024)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--only", default="direct,proxy,rename")
    p.add_argument("--channels", type=int, default=2, help="multifd channels (default 2)")
    p.add_argument("--socket-buffer", type=int, default=None,
                   help="the proxy's --socket-buffer (default: the proxy's own default)")
    p.add_argument("--max-bandwidth", type=int, default=0, metavar="MIB_S",
                   help="QEMU's max-bandwidth for every run (default: no cap)")
    p.add_argument("--trace", action="store_true",
                   help="print QEMU's own end-of-migration trace events of both sides per run")
    opt = p.parse_args()
    configs = [c for c in opt.only.split(",") if c]
    for c in configs:
        if c not in CONFIGS:
            p.error(f"unknown configuration {c} (known: {', '.join(CONFIGS)})")
    fd, ram_file = tempfile.mkstemp(prefix="ram-", suffix=".bin")
    runs = {c: [] for c in configs}
    try:
        with os.fdopen(fd, "wb") as f:
            for _ in range(opt.ram_mib):
                f.write(os.urandom(1 << 20))
        for rep in range(opt.reps):
            for c in configs:
                info, s = one(opt, ram_file, c)
                runs[c].append((info, s))
                t = s["timeline"] if s else {}
                print(f"run {rep + 1} {c:14}: total {info['total-time']} ms, downtime "
                      f"{info['downtime']} ms" +
                      f", {info['ram']['transferred'] >> 20} MiB, {info['ram']['mbps']:.0f} Mbps" +
                      (f"; proxy: completion {t['completion']:.3f}, eof {t['eof']:.3f}, eof sent "
                       f"{t['eof_sent']:.3f}, answer {t['answer']:.3f} s, after stop "
                       f"{(t['eof_offset'] - t['completion_offset']) >> 20} MiB, held "
                       f"{s['held_bytes']} B, transform {s['transform_seconds'] * 1e3:.1f} ms, "
                       f"cpu {s['cpu_seconds']:.2f} s" if s else ""),
                      flush=True)
        cap = f"max-bandwidth {opt.max_bandwidth} MiB/s" if opt.max_bandwidth else "no bandwidth cap"
        print(f"\n{opt.ram_mib} MiB random guest RAM, TCP loopback, return-path on, {cap}, "
              f"{opt.reps} run(s) each: median [min-max], ms")
        print(f"{'':14} {'total':>18} {'downtime':>18} {'completion->answer':>20} "
              f"{'eof->eof sent':>16} {'transform':>12}")
        ms = lambda a, b: (b - a) * 1e3 if a is not None and b is not None else None  # noqa: E731
        for c in configs:
            r = runs[c]
            total = [i["total-time"] for i, _ in r]
            down = [i["downtime"] for i, _ in r]
            tl = [s["timeline"] for _, s in r if s]
            ca = [ms(t["completion"], t["answer"]) for t in tl]
            es = [ms(t["eof"], t["eof_sent"]) for t in tl]
            tr = [s["transform_seconds"] * 1e3 for _, s in r if s]
            print(f"{c:14} {spread(total):>18} {spread(down):>18} {spread(ca):>20} "
                  f"{spread(es):>16} {spread(tr):>12}")
        for c in configs:
            base = "direct-multifd" if c.endswith("-multifd") else "direct"
            if c.startswith("direct") or base not in runs:
                continue
            d_total = statistics.median(i["total-time"] for i, _ in runs[base])
            d_down = statistics.median(i["downtime"] for i, _ in runs[base])
            total = statistics.median(i["total-time"] for i, _ in runs[c])
            down = statistics.median(i["downtime"] for i, _ in runs[c])
            tr = statistics.median(s["transform_seconds"] * 1e3 for _, s in runs[c])
            print(f"{c}: total {total / d_total:.2f}x {base} (target <= 1.15); downtime "
                  f"{down:.0f} ms vs 1.5 x {d_down:.0f} + {tr:.1f} = {1.5 * d_down + tr:.0f} ms "
                  f"({'within' if down <= 1.5 * d_down + tr else 'over'})")
        return 0
    finally:
        os.unlink(ram_file)


if __name__ == "__main__":
    sys.exit(main())
