#!/usr/bin/env python3
"""Migrate a paused QEMU to `exec:COMMAND`: QEMU writes its migration stream
to the command's standard input, as a user hands a live stream to statewire.

usage: migrate_exec.py TOOLS_DIR ARGS_FILE COMMAND

ARGS_FILE holds the QEMU arguments (a corpus stream's .args). Exit 0 when
QEMU reports the migration completed, 1 when it failed, 2 when QEMU could not
be driven.
"""
import sys
import time


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    tools, args_file, command = sys.argv[1:]
    sys.path.insert(0, tools)
    from qmp import DEFAULT_QEMU, QEMU, QMPError, read_args  # noqa: E402

    args = [a for a in read_args(args_file) if a != "-S"]
    q = None
    try:
        q = QEMU(DEFAULT_QEMU, args, ["-S"])
        q.connect()
        q.cmd_("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
        q.cmd_("migrate", uri="exec:" + command)
        deadline = time.time() + 120
        while True:
            info = q.cmd_("query-migrate")
            if info.get("status") in ("completed", "failed"):
                break
            if time.time() > deadline:
                print("migration did not finish in 120 s", file=sys.stderr)
                return 2
            time.sleep(0.02)
        if info["status"] != "completed":
            print("migration failed:", info.get("error-desc"), file=sys.stderr)
            return 1
        return 0
    except QMPError as e:
        print(f"could not drive QEMU: {e}", file=sys.stderr)
        return 2
    finally:
        if q is not None:
            q.close()


if __name__ == "__main__":
    sys.exit(main())
