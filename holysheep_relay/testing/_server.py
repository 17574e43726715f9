"""The relay emulator: state, fault and script queues, routing and endpoints (HTTP in
``_transport``).

One threaded HTTP/1.1 server on 127.0.0.1 runs in a daemon thread; every connection gets a
handler thread and keep-alive. Plain replies carry ``Content-Length``; SSE streams use
``Transfer-Encoding: chunked`` so the connection can be reused after ``[DONE]``.

Request pipeline: record -> route (404) -> JSON body (400) -> auth (401) -> fault queue
-> endpoint (model check, then for chat the request checks of ``_checks`` (400), the
answer of ``_chat`` and the next scripted answer of ``_script``).

Stream-only faults hitting a non-stream request: ``reset_during_stream`` resets before any
reply, ``truncated_stream`` sends half of the body then closes cleanly, ``malformed_chunk``
sends a 200 with a ``{not json`` body, ``error_chunk`` sends a 200 whose body is an
``{"error": ...}`` object (with ``style="finish_reason"``: the completion with every
``finish_reason`` ``"error"``), ``slow_stream`` delays the reply by ``delay``,
``split_bytes`` writes the body 1-3 bytes at a time; the others (``keepalive``, ``crlf``,
``repeated_usage``, ``tool_*``, ``multi_line_data``) are consumed and the reply is normal.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from ._chat import CREATED, ChatPlan, completion_response, plan_chat, stream_chunks
from ._checks import chat_request_error
from ._embeddings import DEFAULT_DIMENSIONS, embedding_inputs, embeddings_response
from ._faults import (
    ERROR_KINDS,
    FAULT_KINDS,
    ErrorReply,
    Fault,
    FaultQueue,
    api_error,
    error_reply,
    normalise_path,
)
from ._script import _UNSET, ScriptQueue, apply_script, make_answer
from ._stream import build_script
from ._transport import RelayHandler, RelayServer

__all__ = ["DEFAULT_MODELS", "FAKE_API_KEY", "Emulator", "RecordedRequest"]

# A key for tests: the emulator accepts any non-empty bearer token unless given ``api_key``.
FAKE_API_KEY = "hs_fake_test_key_0123456789abcdef"

DEFAULT_MODELS: tuple[str, ...] = (
    "claude-opus-4.7",
    "claude-opus-4.6",
    "claude-sonnet-4.5",
    "claude-opus-4-20250514",
    "claude-sonnet-4-20250514",
    "claude-haiku-4-20250514",
    "gpt-5.4",
    "gpt-5.2",
    "gpt-4.1",
    "gemini-2.5-flash",
    "deepseek-v3.2",
    "deepseek-reasoner",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "emulator-model",
    "emulator-reasoner",
)

_CHUNK_VARIANTS = frozenset(
    {"repeated_usage", "tool_index_shared", "tool_index_missing", "tool_repeat_id_name"}
)
# Faults that break the reply: a scripted answer they hit stays queued for the retry.
_BREAKING_KINDS = frozenset(
    {"reset_during_stream", "truncated_stream", "malformed_chunk", "error_chunk"}
)


@dataclass
class RecordedRequest:
    """One request as the emulator received it (faulted and rejected ones included).

    >>> import httpx
    >>> from holysheep_relay.testing import FAKE_API_KEY, Emulator
    >>> with Emulator() as emulator:
    ...     auth = {"Authorization": f"Bearer {FAKE_API_KEY}"}
    ...     status = httpx.get(f"{emulator.base_url}/models?limit=1", headers=auth).status_code
    ...     request = emulator.requests[0]
    >>> status, request.method, request.path, request.query, request.json
    (200, 'GET', '/models', 'limit=1', None)
    >>> request.headers["authorization"] == f"Bearer {FAKE_API_KEY}", request.received_at > 0
    (True, True)
    """

    method: str
    path: str  # without the /v1 prefix and query string, e.g. "/chat/completions"
    headers: dict[str, str]  # lower-cased names
    json: dict[str, Any] | None  # parsed body; None if empty, not JSON or not an object
    body: bytes = b""
    query: str = ""
    # time.time() when the emulator began handling it (headers read; before the body, the
    # auth check and any fault)
    received_at: float = field(default_factory=time.time)


@dataclass
class _State:
    requests: deque[RecordedRequest] = field(default_factory=deque)
    request_count: int = 0
    completion_count: int = 0
    call_count: int = 0
    connections_opened: int = 0


class Emulator:
    """A deterministic OpenAI-compatible relay on ``127.0.0.1:<free port>``, for tests.

    Answers are made up from the request (see ``docs/testing.md``): ``"Hello! You said:
    ..."``, tool calls and JSON synthesised from the request's schemas, usage counted in
    words. :meth:`script` queues exact answers, :meth:`add_fault` queues faults, and requests
    the real relay would refuse get its 400 error body.

    >>> from holysheep_relay import RelayClient
    >>> from holysheep_relay.testing import FAKE_API_KEY, Emulator
    >>> with Emulator() as emulator:
    ...     emulator.script(text="Four.", usage={"prompt_tokens": 12, "completion_tokens": 2})
    ...     emulator.add_fault("rate_limit", retry_after=0)  # a 429 first, then the answer
    ...     with RelayClient(base_url=emulator.base_url, api_key=FAKE_API_KEY) as client:
    ...         reply = client.chat(
    ...             model="gpt-4.1", messages=[{"role": "user", "content": "2 + 2?"}]
    ...         )
    ...     print(reply.choices[0].message.content, reply.usage.total_tokens, emulator.attempts())
    Four. 14 2

    ``models``: served model ids (default ``DEFAULT_MODELS``). ``api_key``: when set, only
    ``Authorization: Bearer <api_key>`` is accepted; when ``None`` any non-empty bearer
    token is. ``reject_stream_options``: a relay that never supports ``stream_options``
    (400 for every request carrying it). ``fixed_completion_id``: a relay that answers every
    chat completion, streamed or not, with this same ``id`` (some relays do), instead of
    ``chatcmpl-<n>``. Both are also attributes, restored to the constructor values by
    :meth:`reset`, and so is ``model_limits`` (``{model: {"max_input_tokens": ...}}``, extra
    fields ``GET /models`` publishes; emptied by :meth:`reset`). ``host`` / ``port``: where
    to listen (port 0: a free one). ``keep_requests``: remember only the last that many
    requests (``None``: all of them).
    """

    def __init__(
        self,
        models: Sequence[str] | None = None,
        api_key: str | None = None,
        *,
        reject_stream_options: bool = False,
        fixed_completion_id: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_requests: int | None = None,
    ) -> None:
        self.models: list[str] = list(DEFAULT_MODELS if models is None else models)
        self.model_limits: dict[str, dict[str, Any]] = {}
        self.api_key = api_key
        self.reject_stream_options = reject_stream_options
        self._reject_default = reject_stream_options
        self.fixed_completion_id = fixed_completion_id
        self._fixed_id_default = fixed_completion_id
        self.host, self._port = host, port
        if keep_requests is not None and keep_requests < 1:
            raise ValueError("keep_requests must be >= 1 (or None: keep every request)")
        self._keep = keep_requests
        self._lock = threading.Lock()
        self._state = self._new_state()
        self._faults = FaultQueue()
        self._scripts = ScriptQueue()
        self._connections: set[socket.socket] = set()
        self._server: RelayServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> Emulator:
        """Start serving (in a daemon thread); returns ``self``. Idempotent."""
        if self._server is None:
            self._server = RelayServer(self, self.host, self._port)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="relay-emulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- public inspection / control -----------------------------------------------------
    @property
    def port(self) -> int:
        """The port it listens on (once started)."""
        if self._server is None:
            raise RuntimeError("emulator is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``: what ``HOLYSHEEP_BASE_URL`` should be."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received (faulted and rejected ones too), oldest first."""
        with self._lock:
            return list(self._state.requests)

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted since the last :meth:`reset`."""
        with self._lock:
            return self._state.connections_opened

    @property
    def active_connections(self) -> int:
        """TCP connections currently open (accepted and not yet closed by the server)."""
        with self._lock:
            return len(self._connections)

    @property
    def faults_pending(self) -> int:
        """Uses left in the fault queue."""
        return self._faults.pending()

    @property
    def scripts_pending(self) -> int:
        """Scripted answers not yet used."""
        return self._scripts.pending()

    def attempts(self, path: str = "/chat/completions") -> int:
        """How many requests reached ``path`` (``/v1`` optional), faulted ones included."""
        wanted = normalise_path(path)
        with self._lock:
            return sum(1 for r in self._state.requests if r.path == wanted)

    def add_fault(
        self, kind: str, *, times: int = 1, path: str | None = "/chat/completions", **params: Any
    ) -> None:
        """Queue fault ``kind`` (one of ``FAULT_KINDS``) for the next ``times`` matching
        requests (``path="*"``: any path); ``params`` as in the faults table of
        ``docs/testing.md``. Faults are used first in, first out."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        self._faults.add(Fault(kind, path, dict(params), times))

    def script(
        self,
        text: str | None = None,
        *,
        tool_calls: Sequence[Mapping[str, Any]] | None = None,
        json: Any = _UNSET,
        usage: Mapping[str, Any] | None = None,
        reasoning: str | None = None,
        finish_reason: str | None = None,
    ) -> None:
        """Queue the exact answer to the next chat request, streamed or not.

        ``text``: the content; or ``json``: a value sent as its JSON text. ``tool_calls``:
        ``[{"name": ..., "arguments": {...} or "raw text", "id": optional}]`` (finish reason
        ``"tool_calls"``). ``usage``: fields replacing the computed ones, e.g.
        ``{"prompt_tokens": 10, "completion_tokens": 5}`` (``total_tokens`` follows unless
        given; ``*_details`` dicts are merged). ``reasoning``: ``reasoning_content``.
        ``finish_reason``: e.g. ``"length"``. Each call queues one answer; each chat request
        that gets an answer uses the oldest. A request answered by an error fault, a reset
        or a 4xx does not use it, and one whose reply a fault breaks
        (``reset_during_stream``, ``truncated_stream``, ``malformed_chunk``,
        ``error_chunk``) leaves it queued for the retry.
        """
        self._scripts.add(
            make_answer(
                text,
                tool_calls=tool_calls,
                json_value=json,
                usage=usage,
                reasoning=reasoning,
                finish_reason=finish_reason,
            )
        )

    def reset(self) -> None:
        """Forget faults, scripted answers, recorded requests, counters and ``model_limits``;
        restore ``reject_stream_options`` and ``fixed_completion_id``."""
        self._faults.clear()
        self._scripts.clear()
        with self._lock:
            self._state = self._new_state()
        self.reject_stream_options = self._reject_default
        self.fixed_completion_id = self._fixed_id_default
        self.model_limits = {}

    # -- Backend protocol (called by the transport, not meant for tests) -----------------
    def _new_state(self) -> _State:
        return _State(requests=deque(maxlen=self._keep))

    def connection_opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._state.connections_opened += 1
            self._connections.add(connection)

    def connection_closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _record(self, request: RecordedRequest) -> tuple[str, _State]:
        """Record ``request``; return its id and the state it belongs to (a request still
        running after :meth:`reset` keeps counting in the old state, not the new one)."""
        with self._lock:
            state = self._state
            state.requests.append(request)
            state.request_count += 1
            return f"req_{state.request_count}", state

    def _next_completion_id(self, state: _State) -> str:
        with self._lock:
            state.completion_count += 1
            fixed = self.fixed_completion_id
            return fixed if fixed else f"chatcmpl-{state.completion_count}"

    def _next_call_id(self, state: _State) -> str:
        with self._lock:
            state.call_count += 1
            return f"call_{state.call_count}"

    def _auth_error(self, authorization: str | None) -> ErrorReply | None:
        headers = [("WWW-Authenticate", 'Bearer realm="HolySheep"')]
        if not authorization or not authorization.strip():
            message = "You didn't provide an API key (Authorization: Bearer <key>)."
            return api_error(401, message, headers=headers)
        if self.api_key is not None:
            ok = authorization == f"Bearer {self.api_key}"
        else:
            scheme, _, token = authorization.partition(" ")
            ok = scheme.lower() == "bearer" and bool(token.strip())
        if ok:
            return None
        message = "Incorrect API key provided."
        return api_error(401, message, code="invalid_api_key", headers=headers)

    def _model_error(self, model: Any) -> ErrorReply | None:
        if not isinstance(model, str) or not model:
            return api_error(400, "you must provide a model parameter", param="model")
        if model in self.models:
            return None
        message = f"Model '{model}' not found. Available models: {', '.join(self.models)}"
        return api_error(404, message, code="model_not_found", param="model")

    def handle(self, handler: RelayHandler) -> None:
        received_at = time.time()
        raw_path = handler.path
        path = normalise_path(raw_path)
        query = raw_path.split("?", 1)[1] if "?" in raw_path else ""
        body = handler.read_body()
        headers = {k.lower(): v for k, v in handler.headers.items()}
        parsed: Any = None
        parse_ok = True
        if body.strip():
            try:
                parsed = json.loads(body)
            except ValueError:
                parse_ok = False
        as_dict = parsed if isinstance(parsed, dict) else None
        record = RecordedRequest(
            handler.command, path, headers, as_dict, body, query, received_at=received_at
        )
        handler.request_id, handler.context = self._record(record)

        route = _ROUTES.get((handler.command, path))
        if route is None:
            message = f"Invalid URL ({handler.command} {raw_path})"
            handler.send_reply(api_error(404, message, code="unknown_url"))
            return
        if handler.command == "POST" and not (parse_ok and isinstance(parsed, dict)):
            message = "We could not parse the JSON body of your request."
            handler.send_reply(api_error(400, message, code="invalid_json"))
            return
        auth_error = self._auth_error(handler.headers.get("Authorization"))
        if auth_error is not None:
            handler.send_reply(auth_error)
            return
        fault = self._faults.take(path, parsed)
        if (
            fault is None
            and self.reject_stream_options
            and isinstance(parsed, dict)
            and "stream_options" in parsed
        ):
            fault = Fault("reject_stream_options", path, {})
        if fault is not None:
            if fault.kind in ERROR_KINDS:
                handler.send_reply(error_reply(fault.kind, fault.params))
                return
            if fault.kind == "reset_before":
                handler.abort()
                return
            if fault.kind == "slow_headers":
                handler.pause(float(fault.params.get("delay", 0.1)))
                fault = None
        route(self, handler, parsed if isinstance(parsed, dict) else {}, fault)

    # -- endpoints -----------------------------------------------------------------------
    def _chat(self, handler: RelayHandler, body: dict[str, Any], fault: Fault | None) -> None:
        error = self._model_error(body.get("model")) or chat_request_error(body)
        if error is not None:
            handler.send_reply(error)
            return
        kind = fault.kind if fault else None
        plan = self._plan(handler, body, kind)
        if body.get("stream") is not True:
            handler.send_json(completion_response(plan), fault)
            return
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        variant = kind if kind in _CHUNK_VARIANTS else None
        chunks = stream_chunks(plan, include_usage=include_usage, variant=variant)
        delay = body.get("emulator_chunk_delay", 0)
        delay = float(delay) if isinstance(delay, (int, float)) else 0.0
        handler.send_stream(build_script(chunks, fault, delay))

    def _plan(self, handler: RelayHandler, body: dict[str, Any], kind: str | None) -> ChatPlan:
        """The answer: computed from ``body``, with the next scripted answer applied."""
        scripted = self._scripts.take(keep=kind in _BREAKING_KINDS)
        call_id = functools.partial(self._next_call_id, handler.context)
        replaced = scripted is not None and scripted.replaces_content
        plan = plan_chat(
            body,
            self._next_completion_id(handler.context),
            (lambda: "call_unused") if replaced else call_id,
            min_tool_calls=2 if kind == "tool_index_shared" and not replaced else 0,
        )
        return plan if scripted is None else apply_script(plan, scripted, call_id)

    def _embeddings(self, handler: RelayHandler, body: dict[str, Any], fault: Fault | None) -> None:
        error = self._model_error(body.get("model"))
        inputs = embedding_inputs(body.get("input"))
        dimensions = body.get("dimensions", DEFAULT_DIMENSIONS)
        encoding = body.get("encoding_format", "float")
        if error is None and inputs is None:
            error = api_error(400, "'input' must be a string or an array", param="input")
        if error is None and not (isinstance(dimensions, int) and 0 < dimensions <= 8192):
            error = api_error(400, "'dimensions' must be a positive integer", param="dimensions")
        if error is None and encoding not in ("float", "base64"):
            message = "'encoding_format' must be 'float' or 'base64'"
            error = api_error(400, message, param="encoding_format")
        if error is not None or inputs is None:
            handler.send_reply(error or api_error(400, "bad request"))
            return
        reply = embeddings_response(inputs, str(body["model"]), dimensions, str(encoding))
        handler.send_json(reply, fault)

    def _models(self, handler: RelayHandler, body: dict[str, Any], fault: Fault | None) -> None:
        data = [
            {
                "id": model,
                "object": "model",
                "created": CREATED,
                "owned_by": "holysheep",
                **self.model_limits.get(model, {}),
            }
            for model in self.models
        ]
        handler.send_json({"object": "list", "data": data}, fault)


_Route = Callable[[Emulator, RelayHandler, dict[str, Any], Fault | None], None]
_ROUTES: dict[tuple[str, str], _Route] = {
    ("POST", "/chat/completions"): Emulator._chat,
    ("POST", "/embeddings"): Emulator._embeddings,
    ("GET", "/models"): Emulator._models,
}
