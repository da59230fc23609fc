#!/usr/bin/env python3
"""Run a QEMU migration through `exec:COMMAND`, as a user pipes live state
through statewire.

usage: migrate_exec.py [--incoming] [--hmp CMD]... TOOLS_DIR ARGS_FILE COMMAND

Outgoing (default): a paused QEMU started with the arguments in ARGS_FILE (a
corpus stream's .args) migrates to `exec:COMMAND`, which reads the stream on
its standard input. --incoming: QEMU loads the stream that COMMAND writes to
its standard output, then prints the output of each --hmp command.
TOOLS_DIR holds statewire's QMP client (tools/qemu/qmp.py).

Exit 0 when QEMU reports the migration completed, 1 when it failed, 2 when
QEMU could not be driven.
"""
import argparse
import sys


def main():
    p = argparse.ArgumentParser(usage=__doc__)
    p.add_argument("--incoming", action="store_true")
    p.add_argument("--hmp", action="append", default=[])
    p.add_argument("tools")
    p.add_argument("args_file")
    p.add_argument("command")
    opt = p.parse_args()
    sys.path.insert(0, opt.tools)
    from qmp import Guest, QmpError, read_args_file  # noqa: E402

    args = [a for a in read_args_file(opt.args_file) if a != "-S"]
    extra = ["-S", "-incoming", "defer"] if opt.incoming else ["-S"]
    g = None
    try:
        g = Guest(args, extra=extra)
        g.connect()
        if opt.incoming:
            g.execute("migrate-incoming", uri="exec:" + opt.command)
        else:
            g.execute("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
            g.execute("migrate", uri="exec:" + opt.command)
        info = g.wait_migration(timeout=120)
        if info["status"] != "completed":
            print("migration failed:", info.get("error-desc"), g.log(), file=sys.stderr)
            return 1
        for cmd in opt.hmp:
            print(f"--- {cmd}")
            print(g.hmp(cmd).rstrip())
        return 0
    except (QmpError, OSError) as e:
        if g is not None and g.proc.poll() is not None:
            print("QEMU exited:", g.log(), file=sys.stderr)
            return 1
        print(f"could not drive QEMU: {e}", file=sys.stderr)
        return 2
    finally:
        if g is not None:
            g.close()


if __name__ == "__main__":
    sys.exit(main())
