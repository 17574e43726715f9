"""Settings, secrets, serialisation and the shared pooled clients."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.load import dumpd, dumps, load

from holysheep_relay import (
    AsyncRelayClient,
    Timeouts,
)
from holysheep_relay.provider import aclose_clients, close_clients
from holysheep_relay.testing import Emulator
from langchain_holysheep import ChatHolySheep, ConfigurationError, HolySheepEmbeddings
from tests.langchain.helpers import KEY

SECRET = "hs_fake_secret_value_0123456789abcdef"


@pytest.mark.parametrize("cls", [ChatHolySheep, HolySheepEmbeddings])
def test_missing_key_is_a_configuration_error(no_relay_env: None, cls: type) -> None:
    with pytest.raises(ConfigurationError, match="HOLYSHEEP_API_KEY"):
        cls(model="gpt-4.1")


@pytest.mark.parametrize(
    ("cls", "example"),
    [(ChatHolySheep, "gpt-4.1"), (HolySheepEmbeddings, "text-embedding-3-small")],
)
@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({}, "needs model=..., e.g. model='{example}'"),
        ({"model": ""}, "needs a non-empty model id, e.g. model='{example}'; got ''"),
        ({"model_name": "  "}, "needs a non-empty model id"),
        ({"model": None}, "needs model=..."),
    ],
)
def test_a_missing_model_names_model_not_model_name(
    cls: type, example: str, kw: dict[str, object], says: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        cls(api_key=KEY, **kw)
    assert str(caught.value).startswith(f"{cls.__name__} {says.format(example=example)}")
    assert "model_name" not in str(caught.value)
    assert cls(api_key=KEY, model_name=example).model == example  # the alias still works


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"base_url": "ftp://relay"}, "not an http"),
        ({"max_retries": -1}, "max_retries"),
        ({"timeout": -3}, "timeout"),
        ({"requests_per_minute": -5}, "positive"),
    ],
)
def test_bad_settings_fail_at_construction(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        ChatHolySheep(model="gpt-4.1", api_key=KEY, **kw)


def test_settings_come_from_the_environment(relay_env: Emulator) -> None:
    llm = ChatHolySheep(model="gpt-4.1")
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == KEY
    assert llm.base_url == relay_env.base_url
    assert llm.invoke("hi").content == "Hello! You said: hi"


def test_pasted_endpoint_url_is_normalised(emulator: Emulator) -> None:
    llm = ChatHolySheep(
        model="gpt-4.1", api_key=KEY, base_url=emulator.base_url + "/chat/completions/"
    )
    llm.invoke("hi")
    assert emulator.requests[-1].path == "/chat/completions"


def test_timeouts_object_is_accepted(emulator: Emulator) -> None:
    llm = ChatHolySheep(
        model="gpt-4.1", api_key=KEY, base_url=emulator.base_url, timeout=Timeouts(read=5.0)
    )
    assert llm._sync_client().config.timeouts.read == 5.0
    assert llm.invoke("hi").content


def test_key_never_shows(no_relay_env: None) -> None:
    llm = ChatHolySheep(model="gpt-4.1", api_key=SECRET)
    emb = HolySheepEmbeddings(model="text-embedding-3-small", api_key=SECRET)
    for text in (repr(llm), str(llm), llm.model_dump_json(), dumps(llm), repr(emb), str(emb)):
        assert SECRET not in text
    assert dumpd(llm)["kwargs"]["api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["HOLYSHEEP_API_KEY"],
    }
    assert SECRET not in repr(llm._sync_client())


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    """The standard test_serdes, with the class allowed explicitly (see that xfail)."""
    llm = ChatHolySheep(model="gpt-4.1", api_key=SECRET, temperature=0.5, max_tokens=9)
    monkeypatch.setenv("HOLYSHEEP_API_KEY", SECRET)
    data = json.loads(json.dumps(dumpd(llm)))
    restored = load(
        data,
        valid_namespaces=["langchain_holysheep"],
        allowed_objects=[ChatHolySheep],
        secrets_from_env=True,
    )
    assert isinstance(restored, ChatHolySheep)
    assert restored.model_dump() == llm.model_dump()
    assert restored.api_key is not None
    assert restored.api_key.get_secret_value() == SECRET


def test_one_pooled_client_per_configuration(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    a, b = make_llm(), make_llm(temperature=0.9)
    assert a._sync_client() is b._sync_client()
    # usage is reported per model by the adapter: the shared client carries no callbacks
    assert make_llm(on_usage=print)._sync_client() is a._sync_client()
    assert a._sync_client().usage_callbacks == []
    assert make_llm(max_retries=1)._sync_client() is not a._sync_client()
    assert make_llm(default_headers={"X": "1"})._sync_client() is not a._sync_client()
    other_key = ChatHolySheep(
        model="gpt-4.1", api_key=KEY + "x", base_url=emulator.base_url, max_retries=0
    )
    assert other_key._sync_client() is not a._sync_client()
    before = emulator.connections_opened
    for llm in (a, b, a, b):
        llm.invoke("hi")
        list(llm.stream("hi"))
    assert emulator.connections_opened - before <= 1  # keep-alive on one pooled connection


def test_one_async_client_serves_every_event_loop_and_each_loop_closes_its_pool(
    emulator: Emulator, make_llm: Callable[..., ChatHolySheep]
) -> None:
    llm = make_llm()
    pools: list[Any] = []

    async def go() -> AsyncRelayClient:
        await llm.ainvoke("hi")
        client = await llm._async_client()
        assert client is await make_llm()._async_client()  # one per configuration
        assert client._pools is not None
        pools.extend(entry.http for entry in client._pools._pools.values())
        return client

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = asyncio.run(go())
        second = asyncio.run(go())  # a new loop: no "Event loop is closed"
        gc.collect()
    assert first is second
    # asyncio.run shut each loop down, and the loop closed its own pool on the way out
    assert len({id(p) for p in pools}) == 2
    assert all(p.is_closed for p in pools)
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_close_clients_then_use_again(make_llm: Callable[..., ChatHolySheep]) -> None:
    llm = make_llm()
    client = llm._sync_client()
    close_clients()
    assert client._http.is_closed
    assert llm._sync_client() is not client
    assert llm.invoke("hi").content == "Hello! You said: hi"

    async def go() -> None:
        await llm.ainvoke("hi")
        client = await llm._async_client()
        assert client._pools is not None
        [pool] = [entry.http for entry in client._pools._pools.values()]
        await aclose_clients()
        assert pool.is_closed
        await llm.ainvoke("hi again")  # a fresh pool for this loop

    asyncio.run(go())
