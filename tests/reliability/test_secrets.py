"""The API key never leaks: reprs, serialisations, DEBUG logs, errors, redirects.

Three key shapes are used: the relay's documented ``hs_...`` and ``sk-holysheep-...`` and a
key with no known prefix (the relay's documentation says not to reject keys for their
prefix), which only a scrubber that knows the configured key can catch.
Cassettes are covered by ``tests/test_cassette_secrets.py`` (every cassette scanned, and
recording proven to scrub before writing).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from holysheep_relay import (
    AsyncRelayClient,
    AuthenticationError,
    ConfigurationError,
    ProtocolError,
    RelayClient,
    RelayConfig,
    RelayError,
)
from holysheep_relay.provider import ClientSpec
from holysheep_relay.testing import Emulator

from .entrypoints import ENTRY_POINTS, EntryPoint, Target, core_chat, core_stream

KEYS = [
    "hs_fake_live_SECRET_reliability_0123456789",
    "sk-fake-holysheep-SECRET-reliability-0123",
    "SECRETreliabilityKEY0123456789abcdef",
]


@pytest.fixture(params=KEYS, ids=["hs_", "sk-holysheep-", "no-prefix"])
def key(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def leaks(key: str, *texts: object) -> list[str]:
    """The texts that contain the key or a recognisable piece of it."""
    pieces = (key, key[-16:], "SECRET")
    return [str(t)[:200] for t in texts if any(p in str(t) for p in pieces)]


def error_texts(error: BaseException) -> list[object]:
    """Everything an error shows: str, repr, the full chained traceback, its attributes."""
    texts: list[object] = [
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
        vars(error),
    ]
    return texts


# -- repr / str / serialisations of every public object that holds the key -------------


def _public_objects(key: str, emulator: Emulator) -> Iterator[tuple[str, Any]]:
    from langchain_holysheep import ChatHolySheep, HolySheepEmbeddings
    from llama_index_holysheep import HolySheep, HolySheepEmbedding

    url = emulator.base_url
    yield "RelayConfig", RelayConfig.from_args(key, url)
    yield "ClientSpec", ClientSpec.build(key, url)
    client = RelayClient(api_key=key, base_url=url)
    yield "RelayClient", client
    yield "RelayClient.config", client.config
    stream = client.stream_chat(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    yield "ChatStream", stream
    stream.close()
    client.close()
    aclient = AsyncRelayClient(api_key=key, base_url=url)
    yield "AsyncRelayClient", aclient
    asyncio.run(aclient.aclose())
    yield "ChatHolySheep", ChatHolySheep(model="gpt-4.1", api_key=key, base_url=url)
    yield (
        "HolySheepEmbeddings",
        HolySheepEmbeddings(model="text-embedding-3-small", api_key=key, base_url=url),
    )
    yield "HolySheep", HolySheep(model="gpt-4.1", api_key=key, base_url=url)
    yield "HolySheepEmbedding", HolySheepEmbedding(api_key=key, base_url=url)


def _renderings(obj: Any) -> Iterator[object]:
    yield repr(obj)
    yield str(obj)
    yield f"{obj!r:>10}"
    for name in ("model_dump", "model_dump_json", "to_dict", "to_json", "asdict", "dict", "json"):
        method = getattr(obj, name, None)
        if callable(method):
            with warnings.catch_warnings():
                # dict() / json() are deprecated aliases (pydantic, langchain-core) that
                # users still call: they must not show the key either.
                warnings.simplefilter("ignore", DeprecationWarning)
                rendered = method()
            yield rendered
    if getattr(type(obj), "is_lc_serializable", lambda: False)():
        from langchain_core.load import dumpd, dumps

        yield dumps(obj)
        yield dumps(obj, pretty=True)
        yield dumpd(obj)
        yield obj.to_json()


def test_no_public_object_shows_the_key(key: str, emulator: Emulator) -> None:
    seen = []
    for name, obj in _public_objects(key, emulator):
        rendered = list(_renderings(obj))
        assert not leaks(key, *rendered), name
        seen.append(name)
    assert len(seen) == 10


# load() is a langchain-core beta API; the round trip through it is the point here.
@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_langchain_dumps_names_the_env_var_instead_of_the_key(key: str) -> None:
    from langchain_core.load import dumpd, load

    from langchain_holysheep import ChatHolySheep

    llm = ChatHolySheep(model="gpt-4.1", api_key=key, base_url="http://127.0.0.1:9/v1")
    data = dumpd(llm)
    assert data["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["HOLYSHEEP_API_KEY"]}
    restored = load(
        data,
        secrets_map={"HOLYSHEEP_API_KEY": key},
        valid_namespaces=["langchain_holysheep"],
        allowed_objects=[ChatHolySheep],
    )
    assert restored.api_key.get_secret_value() == key  # round-trips through the secrets map


# -- logs at DEBUG ----------------------------------------------------------------------


def test_debug_logs_of_a_whole_session_never_show_the_key(
    key: str, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):  # every logger: ours, httpx, httpcore, frameworks
        for entry in ENTRY_POINTS:  # a retried call through every entry point
            emulator.add_fault("rate_limit", retry_after=0)
            target = Target(emulator.base_url, api_key=key, max_retries=1)
            assert entry.run(target, []) == target.expected
        emulator.add_fault("auth_error")
        with pytest.raises(AuthenticationError):
            core_chat(Target(emulator.base_url, api_key=key), [])
        with RelayClient(api_key=key, base_url=emulator.base_url) as client:
            client.list_models()
            client.embed(model="text-embedding-3-small", input=["a"])
    assert len(caplog.records) > 20  # DEBUG really was on
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    texts = [caplog.text, *(r.getMessage() for r in caplog.records)]
    texts += [repr(r.args) for r in caplog.records]
    assert not leaks(key, *texts)


# -- exception messages and tracebacks -----------------------------------------------------


ECHOES: list[tuple[str, str, dict[str, Any]]] = [
    ("401", "status", {"status": 401, "body": {"error": {"message": "Invalid API key: {key}"}}}),
    ("400", "status", {"status": 400, "body": {"error": {"message": "bad header Bearer {key}"}}}),
    (
        "html-200",
        "status",
        {"status": 200, "body": "<p>token {key}</p>", "content_type": "text/html"},
    ),
    (
        "error-event",
        "error_chunk",
        {"after": 1, "error": {"error": {"message": "key {key} blocked"}}},
    ),
    ("text-500", "status", {"status": 500, "body": "upstream refused {key}"}),
]


def _fill(value: Any, key: str) -> Any:
    if isinstance(value, str):
        return value.replace("{key}", key)
    if isinstance(value, dict):
        return {k: _fill(v, key) for k, v in value.items()}
    return value


@pytest.mark.parametrize("entry", [core_chat, core_stream], ids=["chat", "stream_chat"])
@pytest.mark.parametrize(("name", "kind", "params"), ECHOES, ids=[e[0] for e in ECHOES])
def test_errors_never_carry_the_key_even_when_the_relay_echoes_it(
    key: str, emulator: Emulator, entry: Any, name: str, kind: str, params: dict[str, Any]
) -> None:
    emulator.add_fault(kind, times=5, **_fill(params, key))
    with pytest.raises(RelayError) as caught:
        entry(Target(emulator.base_url, api_key=key, max_retries=0), [])
    assert not leaks(key, *error_texts(caught.value))


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=str)
def test_adapter_errors_never_carry_the_key(
    key: str, emulator: Emulator, entry: EntryPoint
) -> None:
    emulator.add_fault("status", status=401, body={"error": {"message": f"bad key {key}"}})
    with pytest.raises(AuthenticationError) as caught:
        entry.run(Target(emulator.base_url, api_key=key, max_retries=0), [])
    assert not leaks(key, *error_texts(caught.value))


@pytest.mark.parametrize("bad", ["Bearer {key}", '"{key}"', "{key}\tx", "'{key}'"])
def test_a_malformed_key_is_rejected_without_echoing_it(key: str, bad: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RelayClient(api_key=bad.replace("{key}", key), base_url="http://127.0.0.1:9/v1")
    assert "HOLYSHEEP_API_KEY" in str(caught.value)
    assert not leaks(key, *error_texts(caught.value))


@pytest.mark.parametrize("padded", ["{key}\n", "{key} ", "  {key}\r\n"])
def test_surrounding_whitespace_is_forgiven_and_the_clean_key_is_sent(
    key: str, padded: str, emulator: Emulator
) -> None:
    with RelayClient(api_key=padded.replace("{key}", key), base_url=emulator.base_url) as client:
        assert client.config.api_key.get_secret_value() == key
        client.list_models()
    assert emulator.requests[-1].headers["authorization"] == f"Bearer {key}"


# -- redirects --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_host() -> Iterator[Emulator]:
    """A second relay: what a redirect would hand the key to."""
    with Emulator() as server:
        yield server


@pytest.mark.parametrize("status", [302, 307])  # 307 would even resend the POST body
@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=str)
def test_a_redirect_to_another_host_is_never_followed(
    emulator: Emulator, other_host: Emulator, entry: EntryPoint, status: int
) -> None:
    key = KEYS[-1]
    other_host.reset()
    location = f"http://localhost:{other_host.port}/v1/chat/completions"
    emulator.add_fault("status", times=5, status=status, headers={"Location": location}, body="")
    with pytest.raises(ProtocolError, match="redirect") as caught:
        entry.run(Target(emulator.base_url, api_key=key), [])
    assert caught.value.status_code == status
    assert emulator.attempts() == 1  # not retried either
    assert other_host.requests == []  # the key never went there
    assert not leaks(key, *error_texts(caught.value))
