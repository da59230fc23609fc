"""A small QMP client and a QEMU process wrapper for statewire's tools and tests.

Python standard library only, so it runs wherever Debian's python3 and
qemu-system-x86 are installed. A `Guest` is one QEMU process with a QMP socket
in a private temporary directory; leaving its `with` block always ends the
process.
"""
import json
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

QEMU_BINARY = os.environ.get("QEMU", "qemu-system-x86_64")


class QmpError(RuntimeError):
    """QEMU refused a command, exited, or could not be reached."""


class Guest:
    def __init__(self, args, binary=QEMU_BINARY, extra=()):
        if shutil.which(binary) is None and not os.path.isfile(binary):
            raise QmpError(f"{binary} not found (Debian: apt-get install qemu-system-x86)")
        self.workdir = tempfile.mkdtemp(prefix="statewire-qemu-")
        self.socket_path = os.path.join(self.workdir, "qmp.sock")
        self.log_path = os.path.join(self.workdir, "qemu.log")
        self.argv = [binary, *args, *extra,
                     "-qmp", f"unix:{self.socket_path},server=on,wait=off"]
        self._log = open(self.log_path, "w+b")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._log)
        self._sock = None
        self._pending = b""

    # --- lifetime -------------------------------------------------------
    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def connect(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise QmpError("QEMU exited while starting: " + self.log())
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.socket_path)
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                time.sleep(0.05)
                continue
            s.settimeout(max(1.0, timeout))
            self._sock = s
            self._message()                     # the QMP greeting
            self.execute("qmp_capabilities")
            return
        raise QmpError(f"no QMP socket after {timeout:g} s: " + self.log())

    def close(self):
        try:
            if self._sock is not None and self.proc.poll() is None:
                try:
                    self.execute("quit")
                except (QmpError, OSError):
                    pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        finally:
            if self._sock is not None:
                self._sock.close()
            self._log.close()
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- protocol -------------------------------------------------------
    def _message(self):
        while b"\n" not in self._pending:
            try:
                chunk = self._sock.recv(1 << 16)
            except socket.timeout:
                raise QmpError("QMP did not answer in time")
            if not chunk:
                raise QmpError("QMP connection closed: " + self.log())
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return json.loads(line) if line.strip() else self._message()

    def execute(self, command, **arguments):
        request = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self._sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            reply = self._message()
            if "event" in reply:
                continue                        # asynchronous events are not answers
            if "error" in reply:
                raise QmpError(f"{command}: {reply['error'].get('desc', reply['error'])}")
            return reply.get("return")

    def hmp(self, command_line):
        return self.execute("human-monitor-command", **{"command-line": command_line})

    def wait_migration(self, timeout=120.0, poll=0.02):
        """Polls query-migrate until it completes or fails; returns its answer."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise QmpError("QEMU exited during migration: " + self.log())
            info = self.execute("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                return info
            if time.monotonic() > deadline:
                raise QmpError(f"migration not finished after {timeout:g} s "
                               f"(status {info.get('status')})")
            time.sleep(poll)

    def log(self):
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace").strip()


def read_args_file(path):
    """The QEMU arguments stored beside a stream (one shell-quoted line)."""
    with open(path) as f:
        return shlex.split(f.read())
