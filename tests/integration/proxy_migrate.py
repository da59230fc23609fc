#!/usr/bin/env python3
"""Live QEMU 7.2 migrations through `statewire proxy`, one scenario per run.

usage: proxy_migrate.py TOOLS_DIR STATEWIRE_CLI WORKDIR SCENARIO

Scenarios (loopback only; every wait bounded; every QEMU and proxy started
is ended, also on failure):
  identity-running   running guest, source -> proxy -> destination, arrives running
  identity-memory    destination paused (-S): its RAM equals the source's (pmemsave)
  identity-bytes     paused guest: `migrate exec:cat > file` and a migration through
                     the proxy (to file:) give the same bytes
  multifd-running    identity-running with QEMU's multifd (2 channels) through --multifd
  multifd-memory     identity-memory with multifd and random RAM: RAM equal at both ends
  renamed-slot       pci-serial at slot 5 on the source, slot 6 on the destination:
                     refused directly, accepted with --rename; the scratch register
                     written on the source reads back on the destination (HMP i/o)
  renamed-slot-rules the same, the rename given as a rules file's stream operation
  refused-by-dest    the same without --rename: destination refuses, source running
  refused-by-proxy   a rules file refuses the register's value: the destination gets
                     no device state, the source keeps running, the proxy names the field
  postcopy-refused   source with postcopy-ram: the proxy refuses at its advice, at the
                     start; source running, proxy exit 1 naming postcopy
  exec-refused       the same with the proxy on the source's exec: pipe: the pipe
                     closes, the source's migration fails, its guest keeps running
  exec-return-path   the proxy on the source's exec: pipe with return-path: the
                     destination's SHUT reaches the source on the proxy's stdout
  exec-refused-at-end  the proxy on an exec: pipe refuses the held device state: the
                     source (return-path) sees the pipe close and keeps running
  exec-incoming      the proxy as the destination's -incoming exec: command: the answer
                     comes back on its stdin, the guest arrives running
  dest-killed        destination QEMU killed mid-RAM: source running, proxy exit 1
  source-cancelled   migrate_cancel on the source mid-RAM: source running, proxy exit 1

Prints what it checked; exit 0 when every check held, 1 when one failed, 2
when QEMU could not be driven.
"""
import hashlib
import json
import os
import select
import socket
import subprocess
import sys
import time

MACHINE = ["-machine", "pc-i440fx-7.2", "-accel", "tcg", "-nodefaults", "-display", "none"]


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)
    print("ok:", what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proxy:
    """`statewire proxy` on a TCP port; the summary is its JSON on stdout."""

    def __init__(self, cli, dest_port, extra=(), listen=None):
        self.port = free_port()
        self.argv = [cli, "proxy", "--listen", listen or f"tcp:127.0.0.1:{self.port}",
                     "--to", f"tcp:127.0.0.1:{dest_port}" if isinstance(dest_port, int) else dest_port,
                     "--format", "json", "--quiet", "--timeout", "30", "--accept-timeout", "60",
                     *extra]
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # It listens before it says so; the source may migrate after this line.
        line = self._stderr_line(10)
        if "listening" not in line:
            self.kill()
            raise RuntimeError("proxy did not start: " + line + self.proc.stderr.read().decode())

    def _stderr_line(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline and not buf.endswith(b"\n"):
            r, _, _ = select.select([self.proc.stderr], [], [], 0.1)
            if r:
                c = os.read(self.proc.stderr.fileno(), 1)
                if not c:
                    break
                buf += c
        return buf.decode(errors="replace")

    @property
    def uri(self):
        return f"tcp:127.0.0.1:{self.port}"

    def finish(self, timeout=60):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failed(f"proxy still running after {timeout} s")
        self.stderr = err.decode(errors="replace")
        try:
            self.summary = json.loads(out.decode())
        except ValueError:
            self.summary = {"result": "no summary", "reason": out.decode() + self.stderr}
        return self.proc.returncode, self.summary

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def return_path(*guests):
    for g in guests:
        g.execute("migrate-set-capabilities",
                  capabilities=[{"capability": "return-path", "state": True}])


def status(g):
    return g.execute("query-status")["status"]


def wait_dest(g, want, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = g.execute("query-migrate")
        if info.get("status") == want:
            return info
        if g.proc.poll() is not None:
            break
        time.sleep(0.05)
    raise Failed(f"destination migration status not {want} after {timeout} s")


def ram_hash(g, path, size):
    g.execute("pmemsave", val=0, size=size, filename=path)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def serial_bar(g, slot):
    """The I/O BAR the firmware gave the pci-serial at `slot`."""
    text = g.hmp("info pci")
    block = text.split(f"device   {slot}, function 0:")[1]
    line = [l for l in block.splitlines() if "BAR0: I/O at" in l][0]
    return int(line.split("I/O at")[1].split()[0], 16)


def wait_for_bar(g, slot, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            bar = serial_bar(g, slot)
            if bar not in (0, 0xfffe, 0xffff):
                return bar
        except (IndexError, ValueError):
            pass
        time.sleep(0.2)
    raise Failed("the firmware did not place the pci-serial's I/O BAR")


class World:
    """Every QEMU and proxy of one scenario, ended on the way out."""

    def __init__(self, tools, cli, work):
        sys.path.insert(0, tools)
        import qmp  # noqa: E402
        self.qmp = qmp
        self.cli = cli
        self.work = work
        self.things = []

    def guest(self, args, extra=()):
        g = self.qmp.Guest(args, extra=list(extra))
        self.things.append(g)
        g.connect()
        return g

    def proxy(self, dest, extra=(), listen=None):
        p = Proxy(self.cli, dest, extra, listen)
        self.things.append(p)
        return p

    def close(self):
        for t in reversed(self.things):
            try:
                t.kill() if isinstance(t, Proxy) else t.close()
            except Exception as e:  # keep ending the others
                print("cleanup:", e, file=sys.stderr)


def start_pair(w, src_args, dst_args, dest_paused=False, rp=True):
    src = w.guest(src_args)
    port = free_port()
    dst = w.guest(dst_args, ["-incoming", f"tcp:127.0.0.1:{port}"] + (["-S"] if dest_paused else []))
    if rp:
        return_path(src, dst)
    src.execute("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
    return src, dst, port


def multifd(*guests, channels=2):
    for g in guests:
        g.execute("migrate-set-capabilities",
                  capabilities=[{"capability": "multifd", "state": True}])
        g.execute("migrate-set-parameters", **{"multifd-channels": channels})


def identity(w, mode, channels=0):
    args = MACHINE + ["-m", "64"]
    src_args = args
    if channels and mode == "memory":
        # Random RAM (no zero pages): every page goes on the multifd
        # channels, the main channel carries almost nothing, and the source
        # waits for the destination at each iteration's sync — the proxy
        # must pass the main channel's start on before it has 64 KiB of it.
        ram = os.path.join(w.work, "ram.bin")
        with open(ram, "wb") as f:
            f.write(os.urandom(64 << 20))
        src_args = args + ["-object", f"memory-backend-file,id=r,size=64M,mem-path={ram},share=off",
                           "-machine", "memory-backend=r"]
        args = args + ["-object", "memory-backend-ram,id=r,size=64M", "-machine", "memory-backend=r"]
    src, dst, port = start_pair(w, src_args, args, dest_paused=(mode == "memory"))
    if channels:
        multifd(src, dst, channels=channels)
    time.sleep(1.0)  # the firmware has run: RAM is not all zeros
    check(status(src) == "running", "source guest running before the migration")
    p = w.proxy(port, ["--multifd"] if channels else [])
    src.execute("migrate", uri=p.uri)
    info = src.wait_migration(timeout=60)
    rc, s = p.finish()
    check(info["status"] == "completed", f"source reports completed ({info.get('error-desc')})")
    check(rc == 0 and s["result"] == "completed", f"proxy completed: {s}")
    check(s["return_path"] and s["destination_shut"] == 0, "destination answered SHUT 0 through the proxy")
    check(s["bytes_in"] == s["bytes_out"], "every byte forwarded unchanged in count")
    if channels:
        check(s["extra_channels"] == channels and s["extra_bytes"] > (64 << 10),
              f"{channels} multifd channels passed through, carrying the RAM pages "
              f"({s['extra_channels']} channels, {s['extra_bytes']} bytes; main channel "
              f"{s['bytes_in'] - s['extra_bytes']} bytes)")
    wait_dest(dst, "completed")
    if mode == "running":
        check(status(dst) == "running", "destination guest running")
    else:
        check(status(dst) == "paused", "destination paused (-S)")
        a = ram_hash(src, os.path.join(w.work, "src.ram"), 64 << 20)
        b = ram_hash(dst, os.path.join(w.work, "dst.ram"), 64 << 20)
        check(a == b, f"64 MiB of guest RAM equal at both ends (sha256 {a[:16]})")


def identity_bytes(w):
    # QEMU 7.2 will not migrate a guest twice, and two QEMUs started alike
    # differ in clock-derived device fields (hpet, rtc); so one paused guest
    # migrates once to `exec:`, where `tee` keeps exactly what it sent (what
    # `exec:cat > file` writes) and a proxy on the pipe forwards it over TCP
    # to a second proxy that writes what reaches it to a file.
    args = MACHINE + ["-m", "4", "-object", "memory-backend-ram,id=r,size=4M",
                      "-machine", "memory-backend=r", "-S"]
    direct = os.path.join(w.work, "direct.mig")
    via = os.path.join(w.work, "via-proxy.mig")
    a = w.guest(args)
    a.execute("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
    p = w.proxy("file:" + via)
    a.execute("migrate", uri=f"exec:tee {direct} | {w.cli} proxy --quiet --listen - "
                             f"--to {p.uri} > {w.work}/pipe-proxy.log 2>&1")
    check(a.wait_migration(timeout=60)["status"] == "completed", "migration through two proxies completed")
    rc, s = p.finish()
    check(rc == 0, f"TCP proxy completed: {s}")
    with open(direct, "rb") as f1, open(via, "rb") as f2:
        x, y = f1.read(), f2.read()
    check(len(x) > 100000, f"the source's stream holds the guest's RAM ({len(x)} bytes, zero pages as flags)")
    check(x == y, f"what the proxies forwarded equals what QEMU sent, byte for byte ({len(y)} bytes)")
    # And a destination QEMU loads it: the same stream through a proxy into QEMU.
    port = free_port()
    dst = w.guest(args, ["-incoming", f"tcp:127.0.0.1:{port}"])
    b = w.guest(args)
    p2 = w.proxy(port)
    b.execute("migrate", uri=p2.uri)
    check(b.wait_migration(timeout=60)["status"] == "completed", "paused guest migrated through the proxy")
    rc, s = p2.finish()
    check(rc == 0 and s["bytes_in"] == s["bytes_out"], f"proxy forwarded every byte: {s}")
    wait_dest(dst, "completed")
    st = status(dst)
    check(st in ("paused", "prelaunch"), f"destination holds the guest, not running ({st})")


def serial_pair(w, scratch=0xA5):
    src_args = MACHINE + ["-m", "32", "-device", "pci-serial,addr=5"]
    dst_args = MACHINE + ["-m", "32", "-device", "pci-serial,addr=6"]
    src, dst, port = start_pair(w, src_args, dst_args)
    bar = wait_for_bar(src, 5)
    src.hmp(f"o /b {bar + 7:#x} {scratch:#x}")  # the UART's scratch register
    check(src.hmp(f"i /b {bar + 7:#x}").strip().endswith(f"{scratch:#x}"),
          f"scratch register {scratch:#x} written on the source (I/O {bar + 7:#x})")
    return src, dst, port, bar


def renamed_slot(w, by_rules=False):
    # Directly, the destination refuses the section of a device it has elsewhere.
    src, dst, port, bar = serial_pair(w)
    src.execute("migrate", uri=f"tcp:127.0.0.1:{port}")
    info = src.wait_migration(timeout=60)
    check(info["status"] == "failed", f"direct migration refused ({info.get('error-desc')})")
    deadline = time.monotonic() + 10
    while dst.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    log = dst.log()
    check("0000:00:05.0/pci-serial" in log, "destination names the unknown section: "
          + log.splitlines()[0] if log else "(no log)")
    check(status(src) == "running", "source still running after the refusal")
    # Through the proxy, renamed to the destination's slot.
    port2 = free_port()
    dst2 = w.guest(MACHINE + ["-m", "32", "-device", "pci-serial,addr=6"],
                   ["-incoming", f"tcp:127.0.0.1:{port2}"])
    return_path(dst2)
    if by_rules:
        # The same rename as a rules file's stream operation.
        rules = os.path.join(w.work, "slot.json")
        with open(rules, "w") as f:
            json.dump({"statewire_rules": 1, "stream": [
                {"op": "rename-section", "from": "0000:00:05.0/pci-serial",
                 "to": "0000:00:06.0/pci-serial"}]}, f)
        p = w.proxy(port2, ["--rules", rules])
    else:
        p = w.proxy(port2, ["--rename", "0000:00:05.0/pci-serial=0000:00:06.0/pci-serial"])
    src.execute("migrate", uri=p.uri)
    info = src.wait_migration(timeout=60)
    rc, s = p.finish()
    check(info["status"] == "completed", f"migration through the proxy completed ({info.get('error-desc')})")
    check(rc == 0 and s["rewritten"] == ["0000:00:06.0/pci-serial/0"], f"proxy renamed the section: {s}")
    check(s["held_bytes"] == 0, "a rename holds no device state back (headers spliced as they pass)")
    wait_dest(dst2, "completed")
    check(status(dst2) == "running", "destination guest running")
    got = dst2.hmp(f"i /b {bar + 7:#x}").strip()
    check(got.endswith("0xa5"), f"destination's pci-serial at slot 6 reads the source's scratch value: {got}")


def refused_by_dest(w):
    src, dst, port, _ = serial_pair(w)
    p = w.proxy(port)
    src.execute("migrate", uri=p.uri)
    info = src.wait_migration(timeout=60)
    rc, s = p.finish()
    check(info["status"] == "failed", f"source sees the migration fail ({info.get('error-desc')})")
    check(status(src) == "running", "source still running")
    check(rc == 1 and s["result"] == "failed", "proxy exits 1")
    check("destination" in s["reason"], f"proxy says why: {s['reason']}")


def refused_by_proxy(w):
    rules = os.path.join(w.work, "refuse.json")
    with open(rules, "w") as f:
        json.dump({"statewire_rules": 1, "transforms": [{
            "section": "pci-serial", "from": 1, "to": 1, "note": "test: a value the proxy refuses",
            "ops": [{"op": "refuse-value", "path": "state.scr", "value": {"t": "u8", "v": 0},
                     "reason": "only scratch value 0 is accepted here"}]}]}, f)
    src_args = MACHINE + ["-m", "32", "-device", "pci-serial,addr=5"]
    src, dst, port = start_pair(w, src_args, src_args)
    bar = wait_for_bar(src, 5)
    src.hmp(f"o /b {bar + 7:#x} 0xa5")
    p = w.proxy(port, ["--rules", rules])
    src.execute("migrate", uri=p.uri)
    info = src.wait_migration(timeout=60)
    rc, s = p.finish()
    check(info["status"] == "failed", f"source sees the migration fail ({info.get('error-desc')}; proxy: {s})")
    check(status(src) == "running", "source still running")
    check(rc == 1, "proxy exits 1")
    check("pci-serial" in s["reason"] and "scr" in s["reason"],
          f"proxy names the section and field: {s['reason']}")
    check(s["held_bytes"] > 0 and s["bytes_out"] <= s["bytes_in"] - s["held_bytes"],
          f"the held device state never reached the destination ({s['bytes_out']} of "
          f"{s['bytes_in']} bytes sent, {s['held_bytes']} held)")
    deadline = time.monotonic() + 10
    while dst.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    check(dst.proc.poll() is not None, "destination gave up on the cut stream (exited)")


def slow_pair(w):
    # 256 MiB of random RAM at 32 MiB/s: seconds of RAM to cut into.
    ram = os.path.join(w.work, "random.ram")
    with open(ram, "wb") as f:
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    src_args = MACHINE + ["-m", "256", "-object",
                          f"memory-backend-file,id=r,size=256M,mem-path={ram},share=off",
                          "-machine", "memory-backend=r"]
    dst_args = MACHINE + ["-m", "256", "-object", "memory-backend-ram,id=r,size=256M",
                          "-machine", "memory-backend=r"]
    src, dst, port = start_pair(w, src_args, dst_args)
    src.execute("migrate-set-parameters", **{"max-bandwidth": 32 << 20})
    return src, dst, port


def wait_bytes(p, src, n, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ram = src.execute("query-migrate").get("ram", {})
        if ram.get("transferred", 0) >= n:
            return
        time.sleep(0.05)
    raise Failed(f"source did not send {n} bytes within {timeout} s")


def dest_killed(w):
    src, dst, port = slow_pair(w)
    p = w.proxy(port)
    src.execute("migrate", uri=p.uri)
    wait_bytes(p, src, 40 << 20)
    dst.proc.kill()
    info = src.wait_migration(timeout=60)
    rc, s = p.finish()
    check(info["status"] == "failed", f"source sees the migration fail ({info.get('error-desc')})")
    check(status(src) == "running", "source still running")
    check(rc == 1, f"proxy exits 1: {s['reason']}")
    check("destination" in s["reason"], f"proxy names the destination: {s['reason']}")


def source_cancelled(w):
    src, dst, port = slow_pair(w)
    p = w.proxy(port)
    src.execute("migrate", uri=p.uri)
    wait_bytes(p, src, 40 << 20)
    src.execute("migrate_cancel")
    info = src.wait_migration(timeout=60)
    rc, s = p.finish()
    check(info["status"] == "cancelled", f"source cancelled ({info['status']})")
    check(status(src) == "running", "source still running")
    check(rc == 1, "proxy exits 1")
    check("source closed" in s["reason"], f"proxy says why: {s['reason']}")
    deadline = time.monotonic() + 10
    while dst.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    check(dst.proc.poll() is not None, "destination gave up on the cut stream (exited)")


def postcopy_source(w):
    args = MACHINE + ["-m", "64"]
    src, dst, port = start_pair(w, args, args)
    # Only the source's capability matters: the proxy refuses at its advice,
    # before the destination would need postcopy (userfaultfd) support.
    src.execute("migrate-set-capabilities",
                capabilities=[{"capability": "postcopy-ram", "state": True}])
    time.sleep(0.5)
    return src, dst, port


def postcopy_refused(w):
    src, dst, port = postcopy_source(w)
    p = w.proxy(port)
    src.execute("migrate", uri=p.uri)
    info = src.wait_migration(timeout=60)
    rc, s = p.finish()
    check(info["status"] == "failed", f"source sees the migration fail ({info.get('error-desc')})")
    check(status(src) == "running", "source still running")
    check(rc == 1 and "postcopy" in s["reason"], f"proxy exits 1 naming postcopy: {s['reason']}")
    check(s["bytes_out"] < 4096, f"the destination got only the stream's start ({s['bytes_out']} bytes)")


def exec_refused(w):
    # `migrate "exec:statewire proxy --listen - --to tcp:..."`: the proxy on
    # the command's standard input. It refuses (postcopy) and exits; the
    # pipe closes under the source, whose migration fails while its guest runs.
    src, dst, port = postcopy_source(w)
    log = os.path.join(w.work, "proxy.log")
    cmd = (f"exec:{w.cli} proxy --listen - --to tcp:127.0.0.1:{port} --format json --quiet "
           f"--timeout 30 2>{log}")
    src.execute("migrate", uri=cmd)
    info = src.wait_migration(timeout=60)
    check(info["status"] == "failed", f"source sees the migration fail ({info.get('error-desc')})")
    check(status(src) == "running", "source still running")
    s = exec_summary(log)
    check(s["result"] == "failed" and "postcopy" in s["reason"],
          f"the proxy's summary (on stderr: stdout is the source's pipe) names postcopy: {s['reason']}")


def exec_summary(log):
    """The proxy's JSON summary from its stderr file, once it has exited."""
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline:
        with open(log) as f:
            text = f.read()
        if text.rstrip().endswith("}"):
            return json.loads(text[text.index("{"):])
        time.sleep(0.05)
    raise Failed("no summary from the proxy: " + text)


def exec_return_path(w):
    # QEMU opens an exec: command both ways: the proxy carries the
    # destination's answer back on its standard output.
    args = MACHINE + ["-m", "64"]
    src, dst, port = start_pair(w, args, args)
    time.sleep(0.5)
    log = os.path.join(w.work, "proxy.log")
    src.execute("migrate", uri=f"exec:{w.cli} proxy --listen - --to tcp:127.0.0.1:{port} "
                               f"--format json --quiet --timeout 30 2>{log}")
    info = src.wait_migration(timeout=60)
    check(info["status"] == "completed", f"source reports completed ({info.get('error-desc')})")
    s = exec_summary(log)
    check(s["result"] == "completed" and s["return_path"] and s["destination_shut"] == 0,
          f"the destination's SHUT 0 reached the source through the proxy's stdout: {s}")
    wait_dest(dst, "completed")
    check(status(dst) == "running", "destination guest running")


def exec_refused_at_end(w):
    # The proxy refuses the device state (held until the trailer, the last
    # thing the source writes) on an exec: pipe: with return-path the source
    # waits for the answer, sees the pipe close instead and keeps running.
    rules = os.path.join(w.work, "refuse.json")
    with open(rules, "w") as f:
        json.dump({"statewire_rules": 1, "transforms": [{
            "section": "pci-serial", "from": 1, "to": 1, "note": "test: a value the proxy refuses",
            "ops": [{"op": "refuse-value", "path": "state.scr", "value": {"t": "u8", "v": 0},
                     "reason": "only scratch value 0 is accepted here"}]}]}, f)
    args = MACHINE + ["-m", "32", "-device", "pci-serial,addr=5"]
    src, dst, port = start_pair(w, args, args)
    bar = wait_for_bar(src, 5)
    src.hmp(f"o /b {bar + 7:#x} 0xa5")
    log = os.path.join(w.work, "proxy.log")
    src.execute("migrate", uri=f"exec:{w.cli} proxy --listen - --to tcp:127.0.0.1:{port} "
                               f"--rules {rules} --format json --quiet --timeout 30 2>{log}")
    info = src.wait_migration(timeout=60)
    s = exec_summary(log)
    check(info["status"] == "failed", f"source sees the migration fail ({info.get('error-desc')})")
    check(status(src) == "running", "source still running")
    check(s["result"] == "failed" and "scr" in s["reason"], f"proxy names the field: {s['reason']}")


def exec_incoming(w):
    # The proxy as the destination's `-incoming "exec:..."` command: the
    # stream goes to QEMU on its stdout, QEMU's answer comes on its stdin.
    args = MACHINE + ["-m", "64"]
    src = w.guest(args)
    lport = free_port()
    log = os.path.join(w.work, "proxy.log")
    dst = w.guest(args, ["-incoming", f"exec:{w.cli} proxy --listen tcp:127.0.0.1:{lport} --to - "
                                      f"--format json --quiet --timeout 30 2>{log}"])
    return_path(src, dst)
    time.sleep(0.5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(log) as f:
            if "listening" in f.read():
                break
        time.sleep(0.05)
    src.execute("migrate", uri=f"tcp:127.0.0.1:{lport}")
    info = src.wait_migration(timeout=60)
    check(info["status"] == "completed", f"source reports completed ({info.get('error-desc')})")
    s = exec_summary(log)
    check(s["result"] == "completed" and s["return_path"] and s["destination_shut"] == 0,
          f"the destination's SHUT 0 came through the proxy's stdin: {s}")
    wait_dest(dst, "completed")
    check(status(dst) == "running", "destination guest running")


SCENARIOS = {
    "identity-running": lambda w: identity(w, "running"),
    "identity-memory": lambda w: identity(w, "memory"),
    "identity-bytes": identity_bytes,
    "multifd-running": lambda w: identity(w, "running", channels=2),
    "multifd-memory": lambda w: identity(w, "memory", channels=2),
    "renamed-slot": renamed_slot,
    "renamed-slot-rules": lambda w: renamed_slot(w, by_rules=True),
    "refused-by-dest": refused_by_dest,
    "refused-by-proxy": refused_by_proxy,
    "dest-killed": dest_killed,
    "postcopy-refused": postcopy_refused,
    "exec-refused": exec_refused,
    "exec-return-path": exec_return_path,
    "exec-refused-at-end": exec_refused_at_end,
    "exec-incoming": exec_incoming,
    "source-cancelled": source_cancelled,
}


def main():
    if len(sys.argv) != 5 or sys.argv[4] not in SCENARIOS:
        print(__doc__, file=sys.stderr)
        return 2
    tools, cli, work, name = sys.argv[1:]
    w = World(tools, cli, work)
    try:
        SCENARIOS[name](w)
        return 0
    except Failed as e:
        print("FAILED:", e)
        return 1
    except Exception as e:  # QEMU could not be driven
        print(f"could not drive QEMU: {type(e).__name__}: {e}")
        return 2
    finally:
        w.close()


if __name__ == "__main__":
    sys.exit(main())
