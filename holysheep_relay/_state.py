"""What a client knows and decides, shared by the sync and async clients (no I/O here).

Configuration, the retry policy, usage accounting, and what the relay has taught it per
model (a channel that rejected ``stream_options``, streams that came back without usage).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx

from . import served
from ._replies import request_id_of
from .accumulate import StreamResult
from .catalog import known_model_ids
from .config import RelayConfig, without_auth
from .errors import (
    InvalidInputError,
    ProtocolError,
    RelayError,
    RelayTimeoutError,
    error_from_response,
)
from .options import ClientOptions
from .retry import RetryPolicy, parse_retry_after
from .usage import Pricing, UsageCallback, UsageEvent, as_callbacks, notify
from .wire import ChatCompletion, EmbeddingResult, ModelInfo, Usage

__all__ = ["ClientState", "HttpRequest"]

logger = logging.getLogger("holysheep_relay")

_JSON_HEADERS = {"content-type": "application/json"}


class HttpRequest:
    """What to send: built and checked here (pure), handed to httpx by a driver."""

    __slots__ = ("content", "headers", "method", "timeout", "url")

    def __init__(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: Mapping[str, str],
        timeout: httpx.Timeout,
    ) -> None:
        self.method = method
        self.url = url
        self.content = content
        self.headers = headers
        self.timeout = timeout

    def build(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        return http.build_request(
            self.method, self.url, content=self.content, headers=self.headers, timeout=self.timeout
        )


def _encode(body: Any) -> bytes:
    """JSON exactly as httpx's ``json=`` encodes it; InvalidInputError for what JSON cannot hold."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"the request cannot be sent as JSON ({exc}); pass only str, numbers, bools, "
            "None, lists and dicts (e.g. json-encode tool arguments yourself)"
        ) from exc


class ClientState:
    """Configuration, policies and what was learned from the relay, shared by both clients."""

    def __init__(self, api_key: Any, base_url: str | None, options: ClientOptions) -> None:
        policy = options.get("retry_policy")
        max_retries = options.get("max_retries", 2) if policy is None else policy.max_retries
        self.config = RelayConfig.from_args(
            api_key,
            base_url,
            timeout=options.get("timeout"),
            max_retries=max_retries,
            default_headers=options.get("default_headers"),
        )
        self.retry_policy = policy or RetryPolicy(max_retries=max_retries)
        self.rate_limiter = options.get("rate_limiter")
        self.budget = options.get("budget")
        # a call reserves before sending only when there is something to reserve from
        self.admits = self.rate_limiter is not None or self.budget is not None
        self.usage_callbacks: list[UsageCallback] = list(as_callbacks(options.get("on_usage")))
        self.pricing = Pricing.coerce(options.get("pricing"))
        # Learned from the relay's answers, per model: a channel that rejected
        # stream_options, a model whose streams came back without usage (warned once).
        self.no_stream_options: set[str] = set()
        self._warned_no_usage: set[str] = set()
        self._headers = self.config.headers()
        self._json_headers = {**self._headers, **_JSON_HEADERS}

    def model_info(self, model: str) -> ModelInfo | None:
        """What this relay's ``/models`` published about ``model`` (limits included), or None
        when it was not listed yet in this process: call ``list_models()`` first."""
        return served.lookup(self.config.base_url, model)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.config.base_url!r}, "
            f"max_retries={self.config.max_retries})"
        )

    # -- request building -------------------------------------------------------------

    def deadline(self) -> float | None:
        total = self.config.timeouts.total
        return self.retry_policy.clock() + total if total else None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        deadline: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> HttpRequest:
        remaining = None
        if deadline is not None:
            remaining = deadline - self.retry_policy.clock()
            if remaining <= 0:
                raise RelayTimeoutError(
                    f"total deadline of {self.config.timeouts.total} s passed before the call"
                )
        headers = self._headers if body is None else self._json_headers
        if extra_headers:
            headers = {**headers, **without_auth(extra_headers)}
        return HttpRequest(
            method,
            self.config.url(path),
            None if body is None else _encode(body),
            headers,
            self.config.timeouts.to_httpx(remaining),
        )

    # -- reply interpretation ------------------------------------------------------------

    def error_for(
        self, response: httpx.Response, content: bytes, model: str | None, url: str | None = None
    ) -> RelayError:
        """The typed error for an error reply to a request for ``url``."""
        request_id = request_id_of(response.headers)
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "?")
            return ProtocolError(
                f"the relay redirected to {location}; redirects are not followed so the key "
                "never leaves the configured host. Set base_url to the final address.",
                status_code=response.status_code,
                request_id=request_id,
            )
        return error_from_response(
            response.status_code,
            content,
            request_id=request_id,
            retry_after=parse_retry_after(response.headers),
            model=model,
            known_models=[*served.model_ids(self.config.base_url), *known_model_ids()],
            url=None if url is None else str(httpx.URL(url).copy_with(userinfo=b"")),
        )

    # -- usage --------------------------------------------------------------------------

    def settle(
        self,
        result: ChatCompletion | StreamResult | EmbeddingResult,
        model: str,
        started: float,
        *,
        streamed: bool,
    ) -> None:
        """Set ``result``'s latency (since ``started``, a ``perf_counter``) and cost, and record
        its usage (callbacks); ``model`` when the reply names none."""
        result.latency_ms = (time.perf_counter() - started) * 1000
        result.cost_usd = self.record_usage(
            result.model or model,
            result.usage,
            result.latency_ms,
            result.request_id,
            streamed=streamed,
        )

    def record_usage(
        self,
        model: str,
        usage: Usage | None,
        latency_ms: float,
        request_id: str | None,
        *,
        streamed: bool,
    ) -> float | None:
        cost = self.pricing.cost(model, usage)
        if usage is None and model not in self._warned_no_usage:
            self._warned_no_usage.add(model)
            logger.warning(
                "the relay sent no usage for %s (%s); its tokens and cost are not counted, "
                "and usage ledgers report it under requests_without_usage",
                model,
                "a stream" if streamed else "a reply",
            )
        if self.usage_callbacks:
            notify(
                self.usage_callbacks,
                UsageEvent(model, usage, cost, latency_ms, request_id, streamed),
            )
        return cost
