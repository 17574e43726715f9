"""State and decisions shared by the sync and async clients (no I/O here)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from . import _protocol as proto
from . import served
from .catalog import known_model_ids
from .config import RelayConfig, Timeouts, without_auth
from .errors import (
    BadRequestError,
    InvalidInputError,
    ProtocolError,
    RelayConnectionError,
    RelayError,
    RelayTimeoutError,
    error_from_response,
)
from .ratelimit import RateLimiter
from .retry import RetryPolicy, parse_retry_after
from .usage import PriceLike, Pricing, UsageCallback, UsageEvent, notify
from .wire import ChatCompletion, EmbeddingResult, ModelInfo, Usage

logger = logging.getLogger("holysheep_relay")

# Transport failures after which a request cannot have been processed (or must be assumed
# lost before any reply): safe to retry. A read timeout is not: the model may be generating.
_RETRYABLE_TRANSPORT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)


def transport_error(exc: httpx.TransportError, base_url: str, partial: str = "") -> RelayError:
    """Map an httpx transport failure to our most specific error (the one place we do)."""
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", "").lower() or "total"
        return RelayTimeoutError(
            f"timed out ({kind}) talking to {base_url}; for long streamed generations raise the "
            "read timeout (timeout=Timeouts(read=...))",
            partial_text=partial,
        )
    return RelayConnectionError(
        f"could not reach the relay at {base_url}: {type(exc).__name__}: {exc}. Check "
        "HOLYSHEEP_BASE_URL and your network.",
        partial_text=partial,
    )


def reply_error(exc: httpx.TransportError, base_url: str) -> RelayError:
    """A transport failure while reading a reply whose headers had arrived (not retried:
    the relay may already have done, and billed, the work)."""
    if isinstance(exc, httpx.TimeoutException):
        return transport_error(exc, base_url)
    return RelayConnectionError(
        f"the connection to the relay at {base_url} was lost while reading its reply "
        f"({type(exc).__name__}: {exc}); not retried: the request may already have been "
        "processed"
    )


class ClientState:
    """Configuration, policies and the pure steps of a call, shared by both clients."""

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        *,
        timeout: float | Timeouts | httpx.Timeout | None = None,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        rate_limiter: RateLimiter | None = None,
        on_usage: UsageCallback | Sequence[UsageCallback] | None = None,
        pricing: Pricing | Mapping[str, PriceLike] | None = None,
    ) -> None:
        self.config = RelayConfig.from_args(
            api_key,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self.rate_limiter = rate_limiter
        if on_usage is None:
            self.usage_callbacks: list[UsageCallback] = []
        elif callable(on_usage):
            self.usage_callbacks = [on_usage]
        else:
            self.usage_callbacks = list(on_usage)
        self.pricing = Pricing.coerce(pricing)
        # Learned from the relay's answers, per model: a channel that rejected
        # stream_options, a model whose streams came back without usage (warned once).
        self.no_stream_options: set[str] = set()
        self._warned_no_usage: set[str] = set()
        self._headers = self.config.headers()

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
        return time.monotonic() + total if total else None

    def build_request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        body: Any = None,
        deadline: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        remaining = None
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RelayTimeoutError(
                    f"total deadline of {self.config.timeouts.total} s passed before the call"
                )
        headers = self._headers
        if extra_headers:
            headers = {**self._headers, **without_auth(extra_headers)}
        try:
            return http.build_request(
                method,
                self.config.url(path),
                json=body,
                headers=headers,
                timeout=self.config.timeouts.to_httpx(remaining),
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"the request cannot be sent as JSON ({exc}); pass only str, numbers, bools, "
                "None, lists and dicts (e.g. json-encode tool arguments yourself)"
            ) from exc

    # -- reply interpretation ------------------------------------------------------------

    def error_for(self, response: httpx.Response, content: bytes, model: str | None) -> RelayError:
        request_id = proto.request_id_of(response.headers)
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
        )

    def retry_delay(
        self, attempt: int, error: RelayError, cause: BaseException | None, deadline: float | None
    ) -> float | None:
        """Seconds to wait before retrying, or None to give up and raise ``error``."""
        if cause is not None:
            if not isinstance(cause, _RETRYABLE_TRANSPORT):
                return None
            status = None
        elif error.status_code is None:
            return None
        else:
            status = error.status_code
        if not self.retry_policy.should_retry(attempt, status):
            return None
        delay = self.retry_policy.delay(attempt, getattr(error, "retry_after", None))
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        logger.debug("retrying after %.2fs (attempt %d): %s", delay, attempt + 1, error)
        return delay

    # -- usage --------------------------------------------------------------------------

    def record_usage(
        self,
        model: str,
        usage: Usage | None,
        latency_ms: float,
        request_id: str | None,
        *,
        estimated_tokens: int,
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
        if self.rate_limiter is not None and usage is not None:
            self.rate_limiter.reconcile(estimated_tokens, usage.total_tokens)
        if self.usage_callbacks:
            notify(
                self.usage_callbacks,
                UsageEvent(model, usage, cost, latency_ms, request_id, streamed),
            )
        return cost


def prepare_chat(
    state: ClientState,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    *,
    stream: bool,
    include_usage: bool = True,
) -> tuple[dict[str, Any], int]:
    """The request body and its token estimate (for the rate limiter)."""
    body = proto.build_chat_body(
        model,
        messages,
        params,
        stream=stream,
        include_usage=include_usage and model not in state.no_stream_options,
    )
    chars = proto.content_chars(body["messages"])
    proto.check_input_size(model, chars, _published_input_limit(state, model))
    return body, proto.estimate_tokens(body, chars)


def _published_input_limit(state: ClientState, model: str) -> int | None:
    info = state.model_info(model)
    return info.input_limit if info is not None else None


def prepare_embed(
    state: ClientState, model: str, inputs: str | Sequence[str], params: Mapping[str, Any]
) -> tuple[dict[str, Any], int]:
    body = proto.build_embed_body(model, inputs, params)
    longest = max(len(text) for text in body["input"])
    proto.check_input_size(model, longest, _published_input_limit(state, model))
    return body, proto.estimate_tokens(body, sum(len(text) for text in body["input"]))


def without_stream_options(
    state: ClientState, error: BadRequestError, body: dict[str, Any]
) -> dict[str, Any] | None:
    """The body to resend when the relay rejected ``stream_options``, else None."""
    if "stream_options" not in body or not proto.is_stream_options_rejection(error):
        return None
    model = str(body["model"])
    logger.warning(
        "the relay rejected stream_options for %s; streaming it without (its streams may "
        "carry no usage); other models keep asking for usage",
        model,
    )
    state.no_stream_options.add(model)
    return {k: v for k, v in body.items() if k != "stream_options"}


def finish_chat(
    state: ClientState,
    content: bytes,
    request_id: str | None,
    body: Mapping[str, Any],
    started: float,
    estimated: int,
) -> ChatCompletion:
    completion = proto.parse_completion(proto.parse_json(content, "reply", request_id), request_id)
    completion.latency_ms = (time.perf_counter() - started) * 1000
    completion.cost_usd = state.record_usage(
        completion.model or body["model"],
        completion.usage,
        completion.latency_ms,
        request_id,
        estimated_tokens=estimated,
        streamed=False,
    )
    return completion


def finish_embed(
    state: ClientState,
    content: bytes,
    request_id: str | None,
    body: Mapping[str, Any],
    started: float,
    estimated: int,
) -> EmbeddingResult:
    data = proto.parse_json(content, "reply", request_id)
    result = proto.parse_embeddings(data, request_id, len(body["input"]))
    result.latency_ms = (time.perf_counter() - started) * 1000
    result.cost_usd = state.record_usage(
        result.model or body["model"],
        result.usage,
        result.latency_ms,
        request_id,
        estimated_tokens=estimated,
        streamed=False,
    )
    return result


def finish_models(state: ClientState, content: bytes, request_id: str | None) -> list[ModelInfo]:
    models = proto.parse_models(proto.parse_json(content, "reply", request_id), request_id)
    served.record(state.config.base_url, models)
    return models
