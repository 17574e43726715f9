"""A fast local fake of the relay for benchmarks (its own process, bounded lifetime).

Serves ``POST .../chat/completions`` with canned, pre-serialised replies so that the client
under test is the bottleneck:

- non-streaming text reply (``stream`` false, no ``tools``);
- one tool call (``tools`` present);
- an SSE stream of N content chunks, a finish chunk, a usage chunk and ``[DONE]``
  (``stream`` true). N comes from a ``/n<N>`` prefix in the path (``/n2000/v1/...``),
  default 20. With a ``/t<N>`` prefix the same stream is trickled: one event per write,
  1 ms apart, so that the client reads one event per ``recv`` as from a real relay.

Also ``GET .../models`` (one entry), ``GET /_stats`` (connections that carried an API
request, requests served) and ``POST /_reset``. HTTP/1.1 with keep-alive and
Content-Length bodies; raw asyncio protocol, no framework.

Run: ``python bench/fake_relay.py --port 0`` prints ``{"port": N}`` on its first line and
serves until ``--max-lifetime`` seconds have passed or its parent process has gone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import socket
import sys
import time
from typing import Any

MODEL = "gpt-4.1"
CREATED = 1763700000
DEFAULT_CHUNKS = 20
_WORDS = ("Hello", " there", "!", " The", " relay", " is", " fast", " and", " the", " sheep")

_PATH_N = re.compile(rb"^/([nt])(\d+)(/.*)$")
TRICKLE_GAP = 0.001  # seconds between events of a trickled stream
SEND_BUFFER = int(os.environ.get("BENCH_RELAY_SNDBUF", 4 << 20))  # bytes; 0 = OS default


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _chunk(cid: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_bench0001",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }


def sse_body(n: int) -> bytes:
    return b"".join(sse_events(n))


def sse_events(n: int) -> list[bytes]:
    """N content chunks (the first also carries the role), a finish chunk, usage, [DONE]."""
    cid = f"chatcmpl-bench-stream-{n}"
    parts = []
    for i in range(n):
        delta: dict[str, Any] = {"content": _WORDS[i % len(_WORDS)]}
        if i == 0:
            delta = {"role": "assistant", "content": delta["content"], "refusal": None}
        parts.append(_sse(_chunk(cid, delta)))
    parts.append(_sse(_chunk(cid, {}, "stop")))
    usage_chunk = _chunk(cid, {})
    usage_chunk["choices"] = []
    usage_chunk["usage"] = _usage(12, n)
    parts.append(_sse(usage_chunk))
    parts.append(b"data: [DONE]\n\n")
    return parts


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _completion(message: dict[str, Any], finish: str, completion_tokens: int) -> bytes:
    body = {
        "id": "chatcmpl-bench-0001",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(12, completion_tokens),
        "service_tier": "default",
        "system_fingerprint": "fp_bench0001",
    }
    return json.dumps(body, separators=(",", ":")).encode()


TEXT_BODY = _completion(
    {
        "role": "assistant",
        "content": "Hello there! The relay is fast and the sheep are happy today.",
        "refusal": None,
        "annotations": [],
    },
    "stop",
    14,
)
TOOL_BODY = _completion(
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_bench_0001",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
        "refusal": None,
        "annotations": [],
    },
    "tool_calls",
    9,
)
MODELS_BODY = json.dumps(
    {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "bench"}]}
).encode()


def _response(status: bytes, content_type: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"content-type: " + content_type + b"\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"x-request-id: req_bench\r\n"
        b"\r\n" + body
    )


_JSON = b"application/json"
TEXT_RESPONSE = _response(b"200 OK", _JSON, TEXT_BODY)
TOOL_RESPONSE = _response(b"200 OK", _JSON, TOOL_BODY)
MODELS_RESPONSE = _response(b"200 OK", _JSON, MODELS_BODY)
NOT_FOUND = _response(b"404 Not Found", _JSON, b'{"error":{"message":"not found"}}')


class Stats:
    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self.streams = 0
        self._sse: dict[int, bytes] = {}
        self._events: dict[int, tuple[bytes, list[bytes]]] = {}

    def stream_response(self, n: int) -> bytes:
        cached = self._sse.get(n)
        if cached is None:
            cached = _response(b"200 OK", b"text/event-stream; charset=utf-8", sse_body(n))
            self._sse[n] = cached
        return cached

    def trickled(self, n: int) -> tuple[bytes, list[bytes]]:
        """The response head and the events, to be written one by one."""
        cached = self._events.get(n)
        if cached is None:
            events = sse_events(n)
            head = _response(b"200 OK", b"text/event-stream; charset=utf-8", b"")
            head = head.replace(b"content-length: 0", b"content-length: %d" % sum(map(len, events)))
            cached = self._events[n] = (head, events)
        return cached


class RelayProtocol(asyncio.Protocol):
    """One connection: parse pipelined HTTP/1.1 requests, answer each with canned bytes."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.buffer = b""
        self.counted = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and SEND_BUFFER:
            # A whole stream fits in the kernel at once: the client then reads full buffers
            # whatever this process's scheduling, instead of pieces as we get CPU to refill.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            lowered = head.lower()
            i = lowered.find(b"\r\ncontent-length:")
            if i >= 0:
                j = lowered.find(b"\r\n", i + 2)
                length = int(head[i + 17 : j if j >= 0 else len(head)].strip())
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = self.buffer[end + 4 : total]
            self.buffer = self.buffer[total:]
            close = b"\r\nconnection: close" in lowered
            self.handle(head.split(b"\r\n", 1)[0], body, close)
            if close:
                return

    def handle(self, request_line: bytes, body: bytes, close: bool) -> None:
        assert self.transport is not None
        try:
            method, target, _ = request_line.split(b" ", 2)
        except ValueError:
            self.transport.close()
            return
        path = target.split(b"?", 1)[0]
        n = DEFAULT_CHUNKS
        trickle = False
        m = _PATH_N.match(path)
        if m:
            trickle, n, path = m.group(1) == b"t", int(m.group(2)), m.group(3)
        if path == b"/_stats":
            out = json.dumps(
                {
                    "connections": self.stats.connections,
                    "requests": self.stats.requests,
                    "streams": self.stats.streams,
                }
            ).encode()
            self.transport.write(_response(b"200 OK", _JSON, out))
        elif path == b"/_reset" and method == b"POST":
            self.stats.connections = self.stats.requests = self.stats.streams = 0
            self.transport.write(_response(b"200 OK", _JSON, b"{}"))
        else:
            if not self.counted:
                self.counted = True
                self.stats.connections += 1
            self.stats.requests += 1
            response = self.api(method, path, body, n)
            if trickle and response is self.stats.stream_response(n):
                task = asyncio.get_running_loop().create_task(self.trickle(n))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            else:
                self.transport.write(response)
        if close:
            self.transport.close()

    async def trickle(self, n: int) -> None:
        assert self.transport is not None
        head, events = self.stats.trickled(n)
        self.transport.write(head)
        for event in events:
            if self.transport.is_closing():
                return
            self.transport.write(event)
            await asyncio.sleep(TRICKLE_GAP)

    def api(self, method: bytes, path: bytes, body: bytes, n: int) -> bytes:
        if path.endswith(b"/chat/completions") and method == b"POST":
            try:
                req = json.loads(body)
            except ValueError:
                req = {}
            if req.get("stream"):
                self.stats.streams += 1
                return self.stats.stream_response(n)
            return TOOL_RESPONSE if req.get("tools") else TEXT_RESPONSE
        if path.endswith(b"/models") and method == b"GET":
            return MODELS_RESPONSE
        return NOT_FOUND


async def serve(host: str, port: int, max_lifetime: float, parent: int) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats()
    server = await loop.create_server(lambda: RelayProtocol(stats), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(json.dumps({"port": bound, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    deadline = time.monotonic() + max_lifetime
    async with server:
        while time.monotonic() < deadline:
            if parent and os.getppid() != parent:
                break  # the parent died: we were re-parented
            await asyncio.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-lifetime", type=float, default=1800.0, help="seconds")
    parser.add_argument(
        "--no-parent-watch", action="store_true", help="keep serving if the parent exits"
    )
    args = parser.parse_args(argv)
    parent = 0 if args.no_parent_watch else os.getppid()
    try:
        import uvloop  # type: ignore[import-not-found]  # optional, faster

        uvloop.install()
    except ImportError:
        pass
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.max_lifetime, parent))


if __name__ == "__main__":
    main()
