"""A real ``redis-server`` on 127.0.0.1 for the tests: start, stop, crash, restart.

:class:`RedisServer` runs the ``redis-server`` binary (Debian's package in CI, see
``.ci/run``) as an OS subprocess on a free port, in a temporary directory of its own, with
no persistence (``--save "" --appendonly no``) and in the foreground, so that the test
process owns it: :meth:`~RedisServer.stop` terminates it, :meth:`~RedisServer.kill` sends
SIGKILL (a crash: connections reset, data gone) and :meth:`~RedisServer.start` brings it
back on the same port. Its log goes to ``redis.log`` in that directory.

Readiness and :meth:`~RedisServer.flushall` speak RESP over a plain socket, so this module
needs no client library.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from typing import IO

__all__ = ["PROVISION", "RedisServer", "find_redis_server", "free_port"]

PROVISION = "apt-get install redis-server"
STARTUP_TIMEOUT = 10.0

# Servers still running when the interpreter exits (a session that ends abnormally) are
# stopped here; the fixtures stop theirs themselves.
_RUNNING: weakref.WeakSet[RedisServer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


def find_redis_server() -> str | None:
    """The ``redis-server`` binary on PATH, if any."""
    return shutil.which("redis-server")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _encode(*args: str) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RedisServer:
    """One ``redis-server`` subprocess on ``127.0.0.1:<port>``.

    ``password``: started with ``--requirepass`` and put in :attr:`url`. ``extra_args``:
    more ``redis-server`` options. ``port`` 0 picks a free port at the first :meth:`start`;
    later starts reuse it.

    >>> server = RedisServer().start()  # doctest: +SKIP
    >>> server.url  # doctest: +SKIP
    'redis://127.0.0.1:40123/0'
    >>> server.kill(); server.start(); server.stop()  # doctest: +SKIP
    """

    def __init__(
        self,
        binary: str | None = None,
        *,
        port: int = 0,
        password: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        found = binary or find_redis_server()
        if found is None:
            raise RuntimeError(f"redis-server is not on PATH ({PROVISION})")
        self.binary = found
        self.port = port
        self.password = password
        self.extra_args = extra_args
        self.workdir = Path(tempfile.mkdtemp(prefix="holysheep-redis-"))
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.workdir / "redis.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        args += ["--dir", str(self.workdir)]
        if self.password:
            args += ["--requirepass", self.password]
        return [*args, *self.extra_args]

    def start(self, timeout: float = STARTUP_TIMEOUT) -> RedisServer:
        """Start the server (on the same port as before, if it ran already) and wait until
        it answers PING. Raises RuntimeError if it exits or does not answer in time."""
        if self.running:
            return self
        if not self.port:
            self.port = free_port()
        self._close_log()
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C meant for pytest does not reach it first
        )
        _RUNNING.add(self)
        deadline = time.monotonic() + timeout
        while not self._answers_ping():
            if not self.running:
                self._reap()
                raise RuntimeError(f"redis-server exited during start-up:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING within {timeout:.0f} s")
            time.sleep(0.02)  # start-up polling: the server is up in a few milliseconds
        return self

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, wait (SIGKILL after ``grace`` s). The port is free afterwards."""
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
        self._reap()

    def kill(self) -> None:
        """SIGKILL, as a crash would: open connections are reset, the data is gone."""
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
        self._reap()

    def flushall(self) -> None:
        """Delete every key (``FLUSHALL``)."""
        reply = self.call("FLUSHALL")
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"FLUSHALL failed: {reply!r}")

    def call(self, *args: str) -> bytes:
        """Send one command (after AUTH, if the server has a password); the raw first reply
        line, e.g. ``b"+PONG"``."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2.0) as sock:
            reader = sock.makefile("rb")
            if self.password:
                sock.sendall(_encode("AUTH", self.password))
                reader.readline()
            sock.sendall(_encode(*args))
            return reader.readline().rstrip(b"\r\n")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text("utf-8", "replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _answers_ping(self) -> bool:
        try:
            return self.call("PING") == b"+PONG"
        except OSError:
            return False

    def _reap(self) -> None:
        if self.process is not None:
            self.process.wait(timeout=10.0)
            self.process = None
        _RUNNING.discard(self)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"RedisServer(127.0.0.1:{self.port}, {state})"
