#!/usr/bin/env python3
"""Run a QEMU migration through `exec:COMMAND`, as a user pipes live state
through statewire.

usage: migrate_exec.py [--incoming] [--hmp CMD]... TOOLS_DIR ARGS_FILE COMMAND

Outgoing (default): a paused QEMU started with the arguments in ARGS_FILE (a
corpus stream's .args) migrates to `exec:COMMAND`, which reads the stream on
its standard input. --incoming: QEMU loads the stream that COMMAND writes to
its standard output, then prints the output of each --hmp command.

Exit 0 when QEMU reports the migration completed, 1 when it failed, 2 when
QEMU could not be driven.
"""
import argparse
import sys
import time


def main():
    p = argparse.ArgumentParser(usage=__doc__)
    p.add_argument("--incoming", action="store_true")
    p.add_argument("--hmp", action="append", default=[])
    p.add_argument("tools")
    p.add_argument("args_file")
    p.add_argument("command")
    opt = p.parse_args()
    sys.path.insert(0, opt.tools)
    from qmp import DEFAULT_QEMU, QEMU, QMPError, read_args  # noqa: E402

    args = [a for a in read_args(opt.args_file) if a != "-S"]
    extra = ["-S", "-incoming", "defer"] if opt.incoming else ["-S"]
    q = None
    try:
        q = QEMU(DEFAULT_QEMU, args, extra)
        q.connect()
        if opt.incoming:
            q.cmd_("migrate-incoming", uri="exec:" + opt.command)
        else:
            q.cmd_("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
            q.cmd_("migrate", uri="exec:" + opt.command)
        deadline = time.time() + 120
        while True:
            if q.proc.poll() is not None:
                print("QEMU exited:", q.stderr_text().strip(), file=sys.stderr)
                return 1
            info = q.cmd_("query-migrate")
            if info.get("status") in ("completed", "failed"):
                break
            if time.time() > deadline:
                print("migration did not finish in 120 s", file=sys.stderr)
                return 2
            time.sleep(0.02)
        if info["status"] != "completed":
            print("migration failed:", info.get("error-desc"), q.stderr_text().strip(),
                  file=sys.stderr)
            return 1
        for cmd in opt.hmp:
            print(f"--- {cmd}")
            print(q.hmp(cmd).rstrip())
        return 0
    except (QMPError, OSError) as e:
        if q is not None and q.proc.poll() is not None:
            print("QEMU exited:", q.stderr_text().strip(), file=sys.stderr)
            return 1
        print(f"could not drive QEMU: {e}", file=sys.stderr)
        return 2
    finally:
        if q is not None:
            q.close()


if __name__ == "__main__":
    sys.exit(main())
