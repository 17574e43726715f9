"""Hooks run INSIDE the LiteLLM proxy (its own venv), never imported by pytest.

The fixture copies this file next to the generated ``config.yaml``; the proxy loads it by
path (``litellm_settings.callbacks: litellm_hooks.hooks`` and
``general_settings.custom_auth: litellm_hooks.custom_auth``). Everything it needs comes from
``$HOLYSHEEP_GATEWAY_STATE/scenarios.json``, written by ``tests/gateway/proxy.py``.

What the hooks do, by model group (the table is in ``scenarios.json``):

- every chat request whose messages hold a probe tag ``[gw:<key>]`` (or
  ``[gw:<key> fail=<n>]``) appends its ``litellm_call_id`` (what the proxy sends as the
  ``x-litellm-call-id`` header) to ``calls/<key>``: the tests count attempts with it;
- ``late_errors``: the request waits ``late_delay`` seconds before failing (the model has a
  tiny ``keepalive_seconds``, so a stream is opened early with ``: ping`` comments and the
  proxy reports the failure as a ``data: {"error": ...}`` frame then ``[DONE]``; a
  non-streamed request gets the plain HTTP error). With ``fail=<n>`` only the first ``n``
  attempts of that probe fail;
- ``mid_errors``: the stream fails after ``after`` content chunks (LiteLLM then writes a
  ``data: {"error": ...}`` frame and no ``[DONE]``);
- ``stream_tools``: LiteLLM's ``mock_tool_calls`` are ignored when streaming, so the
  content chunks are replaced by OpenAI-style tool-call deltas (id and name on the first
  delta, arguments in fragments, ``finish_reason: "tool_calls"``); the usage chunk is kept;
- embeddings: LiteLLM's mock returns one vector whatever the input count; it is replaced by
  one vector per input, ``[index, len(text), 0.5]``, so order can be checked;
- ``custom_auth``: only the configured key is accepted, anything else gets a real 401;
- a watchdog thread stops the proxy if the pytest process that started it goes away
  without stopping it (killed, crashed): no proxy outlives its test session.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import threading
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import litellm
from fastapi import Request
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import ProxyException, UserAPIKeyAuth
from litellm.types.utils import (
    ChatCompletionDeltaToolCall,
    Delta,
    EmbeddingResponse,
    Function,
    ModelResponseStream,
    StreamingChoices,
)

STATE = Path(os.environ["HOLYSHEEP_GATEWAY_STATE"])
SCENARIOS: dict[str, Any] = json.loads((STATE / "scenarios.json").read_text("utf-8"))
CALLS = STATE / "calls"
PROBE = re.compile(r"\[gw:([A-Za-z0-9_-]+)(?: fail=(\d+))?\]")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch_parent(pytest_pid: int) -> None:
    """SIGTERM this proxy once the pytest process is gone, or once this process has been
    re-parented (its parent died); polls once a second."""
    parent = os.getppid()
    while os.getppid() == parent and _alive(pytest_pid):
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


threading.Thread(
    target=_watch_parent, args=(int(SCENARIOS["parent_pid"]),), name="parent-watchdog", daemon=True
).start()

_ERRORS = {
    400: litellm.BadRequestError,
    429: litellm.RateLimitError,
    500: litellm.InternalServerError,
}


def _error(status: int, model: str, what: str) -> Exception:
    return _ERRORS[status](message=f"mock {what} ({status})", llm_provider="openai", model=model)


async def custom_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    if api_key == SCENARIOS["key"]:
        return UserAPIKeyAuth(api_key=api_key, user_role="proxy_admin")
    raise ProxyException(message="Invalid proxy key", type="auth_error", param="api_key", code=401)


def _probe(data: dict[str, Any]) -> tuple[str | None, int | None]:
    for message in data.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and (found := PROBE.search(content)):
            return found.group(1), int(found.group(2)) if found.group(2) else None
    return None, None


def _record(key: str, call_id: str) -> int:
    """Append one attempt for ``key``; return its number (1 for the first)."""
    path = CALLS / key
    with path.open("a", encoding="utf-8") as f:
        f.write(f"{call_id}\n")
    return len(path.read_text("utf-8").splitlines())


def _tool_chunks(first: ModelResponseStream, calls: list[dict[str, Any]]) -> list[Any]:
    def chunk(delta: Delta) -> ModelResponseStream:
        return ModelResponseStream(
            id=first.id,
            created=first.created,
            model=first.model,
            choices=[StreamingChoices(index=0, delta=delta)],
        )

    out = []
    for index, call in enumerate(calls):
        name, arguments = call["function"]["name"], call["function"]["arguments"]
        head = ChatCompletionDeltaToolCall(
            index=index, id=call["id"], type="function", function=Function(name=name, arguments="")
        )
        out.append(chunk(Delta(role="assistant" if index == 0 else None, tool_calls=[head])))
        for start in range(0, len(arguments), 7):
            part = Function(arguments=arguments[start : start + 7])
            delta = ChatCompletionDeltaToolCall(index=index, function=part)
            out.append(chunk(Delta(tool_calls=[delta])))
    return out


class GatewayHooks(CustomLogger):
    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        model = str(data.get("model"))
        key, fail = _probe(data)
        attempt = _record(key, str(data.get("litellm_call_id"))) if key else 1
        status = SCENARIOS["late_errors"].get(model)
        if status is not None and (fail is None or attempt <= fail):
            await asyncio.sleep(SCENARIOS["late_delay"])
            raise _error(int(status), model, "late upstream failure")
        return data

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> AsyncGenerator[Any, None]:
        model = str(request_data.get("model"))
        mid = SCENARIOS["mid_errors"].get(model)
        tools = SCENARIOS["stream_tools"].get(model)
        sent = 0
        async for item in response:
            if mid is not None and sent == mid["after"]:
                raise _error(int(mid["status"]), model, "mid-stream failure")
            if tools is not None and getattr(item, "usage", None) is None:
                choice = item.choices[0] if item.choices else None
                if sent == 0:
                    for tool_chunk in _tool_chunks(item, tools):
                        yield tool_chunk
                        sent += 1
                if choice is not None and choice.finish_reason:
                    choice.finish_reason = "tool_calls"
                    yield item
                continue
            sent += 1
            yield item

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        if isinstance(response, EmbeddingResponse):
            inputs = data.get("input")
            texts = [inputs] if isinstance(inputs, str) else list(inputs or ())
            response.data = [
                {"object": "embedding", "index": i, "embedding": [float(i), float(len(t)), 0.5]}
                for i, t in enumerate(texts)
            ]
        return response


hooks = GatewayHooks()
