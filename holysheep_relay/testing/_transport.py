"""HTTP plumbing for the emulator: a threaded HTTP/1.1 server and its request handler.

The handler reads requests (``Content-Length`` or chunked bodies) and offers the writing
primitives the emulator needs: plain bodies with ``Content-Length`` (optionally written in
1-3 byte pieces or cut in half), chunked SSE bodies, and an abortive close (RST).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import socketserver
import struct
import sys
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from ._faults import UPSTREAM_ERROR, ErrorReply, Fault
from ._stream import StreamScript, split_pieces

__all__ = ["Backend", "RelayHandler", "RelayServer"]


def _real_socket() -> type[socket.socket]:
    """``socket.socket``, even while pytest-socket has swapped it for a guard.

    pytest-socket replaces ``socket.socket`` during a socket-disabled test; the server's
    accept loop lives across tests, so it always builds its sockets from the real class.
    """
    real: type[socket.socket] = getattr(
        sys.modules.get("pytest_socket"), "_true_socket", socket.socket
    )
    return real


class Backend(Protocol):
    """What the server needs from the emulator."""

    def connection_opened(self, connection: socket.socket) -> None: ...

    def connection_closed(self, connection: socket.socket) -> None: ...

    def handle(self, handler: RelayHandler) -> None: ...


class RelayServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server on ``host:port`` (port 0: a free one) feeding a :class:`Backend`."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, backend: Backend, host: str = "127.0.0.1", port: int = 0) -> None:
        self.backend = backend
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        socketserver.BaseServer.__init__(self, (host, port), RelayHandler)
        self.socket = _real_socket()(self.address_family, socket.SOCK_STREAM)
        try:
            self.server_bind()
            self.server_activate()
        except BaseException:
            self.server_close()
            raise

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)  # no reverse DNS lookup

    def get_request(self) -> tuple[socket.socket, Any]:
        fd, address = self.socket._accept()  # type: ignore[attr-defined]
        family, kind, proto = self.socket.family, self.socket.type, self.socket.proto
        return _real_socket()(family, kind, proto, fileno=fd), address

    def process_request(self, request: Any, client_address: Any) -> None:
        self.backend.connection_opened(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.backend.connection_closed(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-reply are expected in fault tests


class RelayHandler(BaseHTTPRequestHandler):
    """Reads one request, lets the backend answer, offers the reply-writing primitives."""

    protocol_version = "HTTP/1.1"
    server_version = "holysheep-emulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120
    server: RelayServer
    request_id = "req_0"
    context: Any = None  # per-request data owned by the backend

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        try:
            self.server.backend.handle(self)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    # -- reading -------------------------------------------------------------------------
    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # -- writing -------------------------------------------------------------------------
    def send_head(
        self,
        status: int,
        content_type: str,
        headers: Sequence[tuple[str, str]] = (),
        *,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
        else:
            self.send_header("Content-Length", str(length))
        self.send_header("x-request-id", self.request_id)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Sequence[tuple[str, str]] = (),
        *,
        tiny_writes: bool = False,
        truncate: bool = False,
    ) -> None:
        self.send_head(status, content_type, headers, length=len(body))
        if truncate:
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True  # the server then closes with a FIN
        elif tiny_writes:
            for piece in split_pieces(body):
                self.wfile.write(piece)
        else:
            self.wfile.write(body)

    def send_reply(self, reply: ErrorReply) -> None:
        self.send_body(reply.status, reply.body, reply.content_type, reply.headers)

    def send_json(self, obj: Any, fault: Fault | None = None, status: int = 200) -> None:
        """A JSON reply, degraded according to a stream-only ``fault`` if one is given."""
        kind = fault.kind if fault else None
        if kind == "reset_during_stream":
            self.abort()
            return
        if kind == "slow_stream" and fault:
            self.pause(float(fault.params.get("delay", 0.1)))
        body = json.dumps(obj, ensure_ascii=False).encode()
        if kind == "malformed_chunk":
            body = b"{not json"
        elif kind == "error_chunk" and fault and fault.params.get("style") == "finish_reason":
            failed = [{**c, "finish_reason": "error"} for c in obj.get("choices", [])]
            body = json.dumps({**obj, "choices": failed}, ensure_ascii=False).encode()
        elif kind == "error_chunk" and fault:
            body = json.dumps(fault.params.get("error", UPSTREAM_ERROR)).encode()
        self.send_body(
            status,
            body,
            tiny_writes=kind == "split_bytes",
            truncate=kind == "truncated_stream",
        )

    def pause(self, delay: float) -> None:
        """Sleep ``delay`` seconds, but raise ``ConnectionAbortedError`` as soon as the client
        hangs up (so a timed-out client does not leave this thread writing into the void)."""
        deadline = time.monotonic() + delay
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], remaining)
            if not readable:
                return
            if not self.connection.recv(1, socket.MSG_PEEK):
                raise ConnectionAbortedError("client closed the connection")
            time.sleep(max(0.0, deadline - time.monotonic()))  # pipelined bytes: just wait
            return

    def send_stream(self, script: StreamScript) -> None:
        self.send_head(200, "text/event-stream; charset=utf-8")
        for delay, event in zip(script.delays, script.events, strict=True):
            if delay > 0:
                self.pause(delay)
            for piece in split_pieces(event) if script.split_bytes else [event]:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        if script.ending == "reset":
            self.abort()
        else:
            self.wfile.write(b"0\r\n\r\n")

    def abort(self) -> None:
        """Close the TCP connection abortively (SO_LINGER 0 -> RST), without a reply."""
        self.close_connection = True
        time.sleep(0.02)  # let the peer read what was already written before the RST
        sock = self.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.rfile.close()
        with contextlib.suppress(OSError):
            sock.close()
