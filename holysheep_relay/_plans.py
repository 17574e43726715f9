"""Every relay call as a plan: a generator of I/O steps, run by a sync or an async driver.

A plan does everything but I/O: it builds the request, decides retries
(:meth:`RetryPolicy.decide`), interprets replies and records usage. It yields a step and
receives the step's result, or has the driver's ``httpx.TransportError`` thrown into it:

- ``Send(request)`` -> the ``httpx.Response`` (headers read, body not yet);
- ``ReadBody(response)`` -> its whole body as bytes (the response is then closed);
- ``Close(response)`` -> None;
- ``Sleep(seconds)`` -> None;
- ``Call(target, method, args)`` -> what ``target.method(*args)`` returns (the async
  driver awaits ``target.a<method>(*args)``): the rate limiter's and the budget's
  reservations, which may be I/O (Redis);
- in streams, ``Pull(chunks)`` hands ``chunks`` to the caller, and ``stream.Drain``
  reads the body to its end through the stream's fold (the hot loop stays in the driver).

So ``RelayClient`` and ``AsyncRelayClient`` differ only in their ``perform`` of a step
(``_drive.py``); their public methods just pick a plan.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from . import _replies, _requests, _validate, served
from ._state import ClientState, HttpRequest
from ._transport import map_transport_error
from .budget import SpendBudget
from .catalog import get_model_spec
from .errors import APIStatusError, BadRequestError, ConfigurationError, RelayError
from .wire import ChatChunk, ChatCompletion, EmbeddingResult, ModelInfo

__all__ = [
    "CHAT",
    "Admission",
    "Call",
    "Close",
    "OpenedStream",
    "Plan",
    "Pull",
    "ReadBody",
    "Send",
    "Sleep",
    "Step",
    "advance",
    "chat",
    "embed",
    "forfeit",
    "list_models",
    "open_stream",
    "send",
    "settle",
]

logger = logging.getLogger("holysheep_relay")

T = TypeVar("T")
CHAT = "/chat/completions"


@dataclass(slots=True)
class Send:
    request: HttpRequest


@dataclass(slots=True)
class ReadBody:
    response: httpx.Response


@dataclass(slots=True)
class Close:
    response: httpx.Response


@dataclass(slots=True)
class Sleep:
    seconds: float


@dataclass(slots=True)
class Pull:
    chunks: list[ChatChunk]


@dataclass(slots=True)
class Call:
    target: Any
    method: str
    args: tuple[Any, ...]


Step = Send | ReadBody | Close | Sleep | Pull | Call
Plan = Generator[Step, Any, T]


def advance(plan: Plan[T], value: Any, error: BaseException | None) -> tuple[bool, Any]:
    """Resume ``plan`` with a step's result (or its error): (done, next step or result)."""
    try:
        return False, plan.send(value) if error is None else plan.throw(error)
    except StopIteration as stop:
        return True, stop.value


def send(
    state: ClientState,
    method: str,
    path: str,
    body: Any,
    *,
    model: str | None = None,
    deadline: float | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> Plan[httpx.Response]:
    """Send with retries; return a successful response whose body is not read yet."""
    attempt = 0
    base_url = state.config.base_url
    while True:
        request = state.request(method, path, body, deadline, extra_headers)
        cause: httpx.TransportError | None = None
        error: RelayError
        try:
            response = yield Send(request)
        except httpx.TransportError as exc:
            cause, error = exc, map_transport_error(exc, base_url, "send")
        else:
            if response.status_code < 300:
                return response  # type: ignore[no-any-return]
            try:
                content = yield ReadBody(response)
            except httpx.TransportError as exc:
                cause, error = exc, map_transport_error(exc, base_url, "send")
            else:
                error = state.error_for(response, content, model, request.url)
        delay = state.retry_policy.decide(attempt, error, cause, deadline)
        if delay is None:
            raise error from cause
        yield Sleep(delay)
        yield from another_attempt(state)
        attempt += 1


def another_attempt(state: ClientState) -> Plan[None]:
    """A resend is one more request in the rate limiter's window (its tokens are already
    counted by the call's reservation)."""
    if state.rate_limiter is not None:
        reservation = yield Call(state.rate_limiter, "reserve", (0,))
        if reservation.wait > 0:
            yield Sleep(reservation.wait)


def _request(
    state: ClientState, method: str, path: str, body: Any, **kw: Any
) -> Plan[tuple[bytes, str | None]]:
    """Send, read the whole body; return (content, request id)."""
    response = yield from send(state, method, path, body, **kw)
    try:
        content = yield ReadBody(response)
    except httpx.TransportError as exc:
        raise map_transport_error(exc, state.config.base_url, "reply") from exc
    return content, _replies.request_id_of(response.headers)


@dataclass(slots=True)
class Admission:
    """What a call reserved before sending: its rate-limit grant and its budget hold."""

    reservation: Any = None
    hold: Any = None


def _worst_case_usd(
    state: ClientState, budget: SpendBudget, model: str, body: Mapping[str, Any]
) -> float:
    price = state.pricing.price(model)
    if price is None:
        if budget.unknown_price == "allow":
            return 0.0
        raise ConfigurationError(
            f"no price is known for {model!r}, so the spend budget cannot bound its cost; "
            f"give one with pricing={{{model!r}: {{'input': 1.0, 'output': 2.0}}}} "
            "(USD per million tokens), or SpendBudget(..., unknown_price='allow') to send it "
            "uncounted"
        )
    info = state.model_info(model)
    published = info.output_limit if info is not None else None
    spec = get_model_spec(model)
    output = _requests.output_token_bound(
        body, published or (spec.max_output_tokens if spec.known else None)
    )
    if output is None:
        raise ConfigurationError(
            f"the spend budget needs a bound on {model!r}'s output to reserve its worst "
            "case: pass max_tokens=N (the relay's /models lists no output limit for it)"
        )
    return (_requests.input_token_bound(body) * price.input + output * price.output) / 1e6


def admit(state: ClientState, model: str, body: Mapping[str, Any], tokens: int) -> Plan[Admission]:
    """Reserve the call's worst-case cost (budget: refused here, before sending, when it
    does not fit), then its request and ``tokens`` (waiting for the window)."""
    admission = Admission()
    if state.budget is not None:
        need = _worst_case_usd(state, state.budget, model, body)
        admission.hold = yield Call(state.budget, "reserve", (model, need))
    if state.rate_limiter is not None:
        try:
            admission.reservation = yield Call(state.rate_limiter, "reserve", (tokens,))
        except RelayError as error:
            yield from forfeit(state, admission, error)
            raise
        if admission.reservation.wait > 0:
            yield Sleep(admission.reservation.wait)
    return admission


def settle(
    state: ClientState,
    admission: Admission,
    result: ChatCompletion | EmbeddingResult | Any,
) -> Plan[None]:
    """After the reply: the limiter counts the real tokens, the budget the real cost."""
    if admission.reservation is not None and result.usage is not None:
        yield Call(
            state.rate_limiter, "reconcile", (admission.reservation, result.usage.total_tokens)
        )
    if admission.hold is not None:
        yield Call(state.budget, "settle", (admission.hold, result.cost_usd))


def forfeit(
    state: ClientState, admission: Admission, error: RelayError, billed: bool = False
) -> Plan[None]:
    """A call failed: an HTTP error reply costs nothing; anything else (a timeout after
    sending, a broken stream, ``billed`` output) keeps its whole reservation as spent."""
    if admission.hold is not None:
        cost = 0.0 if isinstance(error, APIStatusError) and not billed else None
        yield Call(state.budget, "settle", (admission.hold, cost))


def _published_input_limit(state: ClientState, model: str) -> int | None:
    info = state.model_info(model)
    return info.input_limit if info is not None else None


def _chat_body(
    state: ClientState,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    *,
    stream: bool,
    include_usage: bool = True,
) -> tuple[dict[str, Any], int]:
    """The request body and its token estimate (for the rate limiter)."""
    body = _requests.build_chat_body(
        model,
        messages,
        params,
        stream=stream,
        include_usage=include_usage and model not in state.no_stream_options,
    )
    chars = _validate.content_chars(body["messages"])
    _validate.check_input_size(model, chars, _published_input_limit(state, model))
    return body, _requests.estimate_tokens(body, chars)


def chat(
    state: ClientState,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    extra_headers: Mapping[str, str] | None,
) -> Plan[ChatCompletion]:
    body, estimated = _chat_body(state, model, messages, params, stream=False)
    return (
        yield from _call(
            state, model, CHAT, body, estimated, _replies.parse_completion, extra_headers
        )
    )


R = TypeVar("R", ChatCompletion, EmbeddingResult)


def _call(
    state: ClientState,
    model: str,
    path: str,
    body: dict[str, Any],
    estimated: int,
    parse: Callable[[Any, str | None], R],
    extra_headers: Mapping[str, str] | None = None,
) -> Plan[R]:
    """One non-streamed call: admit, send, read, ``parse(json, request id)``; settle the
    reservations, or forfeit them when it fails."""
    admission = (yield from admit(state, model, body, estimated)) if state.admits else None
    started = time.perf_counter()
    try:
        content, request_id = yield from _request(
            state,
            "POST",
            path,
            body,
            model=model,
            deadline=state.deadline(),
            extra_headers=extra_headers,
        )
        result = parse(_replies.parse_json(content, "reply", request_id), request_id)
    except RelayError as error:
        if admission is not None:
            yield from forfeit(state, admission, error)
        raise
    state.settle(result, model, started, streamed=False)
    if admission is not None:
        yield from settle(state, admission, result)
    return result


@dataclass(slots=True)
class OpenedStream:
    """A stream whose 200 reply has arrived, and what is needed to send it again."""

    response: httpx.Response
    body: dict[str, Any]
    send_kw: dict[str, Any]
    started: float
    admission: Admission | None


def open_stream(
    state: ClientState,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    include_usage: bool,
    extra_headers: Mapping[str, str] | None,
) -> Plan[OpenedStream]:
    """Send a stream request; errors before the first byte of the stream raise here."""
    body, estimated = _chat_body(
        state, model, messages, params, stream=True, include_usage=include_usage
    )
    admission = (yield from admit(state, model, body, estimated)) if state.admits else None
    started = time.perf_counter()
    kw: dict[str, Any] = {
        "model": model,
        "deadline": state.deadline(),
        "extra_headers": extra_headers,
    }
    try:
        try:
            response = yield from send(state, "POST", CHAT, body, **kw)
        except BadRequestError as exc:
            if "stream_options" not in body or not _replies.is_stream_options_rejection(exc):
                raise
            logger.warning(
                "the relay rejected stream_options for %s; streaming it without (its streams "
                "may carry no usage); other models keep asking for usage",
                model,
            )
            state.no_stream_options.add(model)
            body = {k: v for k, v in body.items() if k != "stream_options"}
            yield from another_attempt(state)
            response = yield from send(state, "POST", CHAT, body, **kw)
    except RelayError as error:
        if admission is not None:
            yield from forfeit(state, admission, error)
        raise
    return OpenedStream(response, body, kw, started, admission)


def list_models(state: ClientState) -> Plan[list[ModelInfo]]:
    content, request_id = yield from _request(
        state, "GET", "/models", None, deadline=state.deadline()
    )
    data = _replies.parse_json(content, "reply", request_id)
    models = _replies.parse_models(data, request_id)
    served.record(state.config.base_url, models)
    return models


def embed(
    state: ClientState, model: str, inputs: str | Sequence[str], params: Mapping[str, Any]
) -> Plan[EmbeddingResult]:
    body = _requests.build_embed_body(model, inputs, params)
    longest = max(len(text) for text in body["input"])
    _validate.check_input_size(model, longest, _published_input_limit(state, model))
    estimated = _requests.estimate_tokens(body, sum(len(text) for text in body["input"]))
    count = len(body["input"])

    def parse(data: Any, request_id: str | None) -> EmbeddingResult:
        return _replies.parse_embeddings(data, request_id, count)

    return (yield from _call(state, model, "/embeddings", body, estimated, parse))
