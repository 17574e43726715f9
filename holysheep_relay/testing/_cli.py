"""``holysheep emulate``: serve the emulator from the terminal until Ctrl-C.

Registered in :mod:`holysheep_relay.cli` by :func:`add_parser`; this module imports only
the standard library, and the server itself loads when the command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TextIO

__all__ = ["add_parser", "is_loopback", "run"]

KEEP_REQUESTS = 1000  # a long-running server remembers only the latest requests
DESCRIPTION = """\
Serve the relay emulator on HOST:PORT until Ctrl-C: deterministic fake answers (chat,
streams, tool calls, JSON, embeddings, /models) for trying code and tests without a key or
network. Any non-empty API key is accepted (unless --api-key). It prints the
HOLYSHEEP_BASE_URL line to export in another terminal."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``emulate`` to the ``holysheep`` command's subcommands."""
    p = subparsers.add_parser(
        "emulate",
        help="serve a local fake relay for tests (no key, no network) until Ctrl-C",
        description=DESCRIPTION,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=0, help="port (default 0: a free one)")
    p.add_argument(
        "--api-key", default=None, help="accept only this key (default: any non-empty key)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="listen on a non-loopback address too (it serves fake answers to anyone)",
    )
    p.set_defaults(func=run)


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return value


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.x.x.x`` or ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def _sigterm_stops(stop: threading.Event) -> Iterator[None]:
    """While inside: SIGTERM sets ``stop`` (so ``kill`` stops the server as cleanly as Ctrl-C)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: no signal handlers there
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Serve until Ctrl-C (exit 0), SIGTERM (0), or fail to listen (1); refuse (2) a
    non-loopback host without ``--force``."""
    host: str = args.host.strip("[]")
    if not is_loopback(host) and not args.force:
        err.write(
            f"error: refusing to listen on {host}: the emulator serves fake answers to anyone"
            " who can reach it, and accepts any API key. Use a loopback address (127.0.0.1,"
            " ::1, localhost), or pass --force if you mean to serve it beyond this machine.\n"
        )
        return 2
    from ._server import FAKE_API_KEY, Emulator

    emulator = Emulator(
        host=host, port=args.port, api_key=args.api_key, keep_requests=KEEP_REQUESTS
    )
    stop = threading.Event()
    try:
        with _sigterm_stops(stop):
            try:
                emulator.start()
            except OSError as exc:
                err.write(f"error: cannot listen on {host}:{args.port}: {exc.strerror or exc}\n")
                return 1
            key = args.api_key or FAKE_API_KEY
            hint = "the only key accepted" if args.api_key else "any non-empty key works"
            out.write(f"export HOLYSHEEP_BASE_URL={emulator.base_url}\n")
            out.write(f"export HOLYSHEEP_API_KEY={key}  # {hint}\n")
            out.flush()
            reach = "this machine only" if is_loopback(host) else f"anyone who can reach {host}"
            err.write(
                f"HolySheep emulator on {emulator.base_url}, for {reach}: fake, deterministic"
                " answers. Export the lines above in the shell you test from; Ctrl-C stops it.\n"
            )
            err.flush()
            while not stop.wait(0.2):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    err.write("emulator stopped\n")
    return 0
