"""One driver per client: the same work done through each library's public API.

Every driver offers ``request()`` (a plain chat reply: text + total tokens), ``stream()``
(collect every content delta of a stream: text + total tokens), ``tool()`` (one tool call:
name + parsed arguments + total tokens) and the async twins ``arequest()`` / ``astream()``.
Imports happen inside the constructors, so a process only loads what it measures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from common import API_KEY, MESSAGES, MODEL, SYSTEM, TOOLS, USER, base_url, get_weather
from specs import IMPORTS

Reply = tuple[Any, Any]  # (text or tool call, total tokens)


@dataclass(frozen=True)
class Spec:
    key: str
    label: str
    peer: str | None  # the client this one is compared with ("httpx" for the core)
    network: bool = True

    @property
    def imports(self) -> str:
        """The statement timed by the import benchmark."""
        return IMPORTS[self.key]


SPECS: dict[str, Spec] = {
    s.key: s
    for s in (
        Spec("httpx", "raw httpx (floor)", None),
        Spec("openai", "openai SDK", "httpx"),
        Spec("langchain_openai", "ChatOpenAI", None),
        Spec("openai_like", "OpenAILike", None),
        Spec("relay", "holysheep_relay.RelayClient", "httpx"),
        Spec("langchain_holysheep", "ChatHolySheep", "langchain_openai"),
        Spec("llama_index_holysheep", "HolySheep (LlamaIndex)", "openai_like"),
        Spec("floor_langchain", "langchain-core fake model (no network)", None, network=False),
        Spec("floor_llama_index", "llama-index-core fake LLM (no network)", None, network=False),
    )
}


# --- raw httpx: the floor ---------------------------------------------------------------


class HttpxDriver:
    """Hand-written httpx: POST JSON, parse SSE lines with ``json.loads``."""

    def __init__(self, url: str) -> None:
        import httpx

        self._httpx = httpx
        self.url = url + "/chat/completions"
        self.headers = {"Authorization": f"Bearer {API_KEY}"}
        self.limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        self.client = httpx.Client(limits=self.limits, timeout=60)
        self.aclient: Any = None
        self.body = {"model": MODEL, "messages": MESSAGES}
        self.stream_body = {**self.body, "stream": True, "stream_options": {"include_usage": True}}
        self.tool_body = {**self.body, "tools": TOOLS}

    def _aclient(self) -> Any:
        if self.aclient is None:
            self.aclient = self._httpx.AsyncClient(limits=self.limits, timeout=60)
        return self.aclient

    def request(self) -> Reply:
        r = self.client.post(self.url, json=self.body, headers=self.headers)
        r.raise_for_status()
        data = r.json()
        return data["choices"][0]["message"]["content"], data["usage"]["total_tokens"]

    async def arequest(self) -> Reply:
        r = await self._aclient().post(self.url, json=self.body, headers=self.headers)
        r.raise_for_status()
        data = r.json()
        return data["choices"][0]["message"]["content"], data["usage"]["total_tokens"]

    def tool(self) -> Reply:
        r = self.client.post(self.url, json=self.tool_body, headers=self.headers)
        r.raise_for_status()
        data = r.json()
        call = data["choices"][0]["message"]["tool_calls"][0]["function"]
        return (call["name"], json.loads(call["arguments"])), data["usage"]["total_tokens"]

    @staticmethod
    def _line(line: str, parts: list[str]) -> int | None:
        if not line.startswith("data: "):
            return None
        data = line[6:]
        if data == "[DONE]":
            return None
        obj = json.loads(data)
        for choice in obj["choices"]:
            content = choice["delta"].get("content")
            if content:
                parts.append(content)
        usage = obj.get("usage")
        return usage["total_tokens"] if usage else None

    def stream(self) -> Reply:
        parts: list[str] = []
        total = None
        with self.client.stream("POST", self.url, json=self.stream_body, headers=self.headers) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                total = self._line(line, parts) or total
        return "".join(parts), total

    async def astream(self) -> Reply:
        parts: list[str] = []
        total = None
        async with self._aclient().stream(
            "POST", self.url, json=self.stream_body, headers=self.headers
        ) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                total = self._line(line, parts) or total
        return "".join(parts), total


# --- the openai SDK ---------------------------------------------------------------------


class OpenAIDriver:
    def __init__(self, url: str) -> None:
        import openai

        self._openai = openai
        self.url = url
        self.client = openai.OpenAI(api_key=API_KEY, base_url=self.url)
        self.aclient: Any = None

    def _aclient(self) -> Any:
        if self.aclient is None:
            self.aclient = self._openai.AsyncOpenAI(api_key=API_KEY, base_url=self.url)
        return self.aclient

    def request(self) -> Reply:
        r = self.client.chat.completions.create(model=MODEL, messages=MESSAGES)
        return r.choices[0].message.content, r.usage.total_tokens

    async def arequest(self) -> Reply:
        r = await self._aclient().chat.completions.create(model=MODEL, messages=MESSAGES)
        return r.choices[0].message.content, r.usage.total_tokens

    def tool(self) -> Reply:
        r = self.client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS)
        fn = r.choices[0].message.tool_calls[0].function
        return (fn.name, json.loads(fn.arguments)), r.usage.total_tokens

    @staticmethod
    def _chunk(chunk: Any, parts: list[str]) -> int | None:
        if chunk.choices:
            content = chunk.choices[0].delta.content
            if content:
                parts.append(content)
        return chunk.usage.total_tokens if chunk.usage else None

    def stream(self) -> Reply:
        parts: list[str] = []
        total = None
        s = self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        with s:
            for chunk in s:
                total = self._chunk(chunk, parts) or total
        return "".join(parts), total

    async def astream(self) -> Reply:
        parts: list[str] = []
        total = None
        s = await self._aclient().chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        async with s:
            async for chunk in s:
                total = self._chunk(chunk, parts) or total
        return "".join(parts), total


# --- holysheep_relay --------------------------------------------------------------------


class RelayDriver:
    def __init__(self, url: str) -> None:
        import holysheep_relay

        self._mod = holysheep_relay
        self.url = url
        self.client = holysheep_relay.RelayClient(api_key=API_KEY, base_url=self.url)
        self.aclient: Any = None

    def _aclient(self) -> Any:
        if self.aclient is None:
            self.aclient = self._mod.AsyncRelayClient(api_key=API_KEY, base_url=self.url)
        return self.aclient

    def request(self) -> Reply:
        r = self.client.chat(model=MODEL, messages=MESSAGES)
        return r.content, r.usage.total_tokens

    async def arequest(self) -> Reply:
        r = await self._aclient().chat(model=MODEL, messages=MESSAGES)
        return r.content, r.usage.total_tokens

    def tool(self) -> Reply:
        r = self.client.chat(model=MODEL, messages=MESSAGES, tools=TOOLS)
        fn = r.choices[0].message.tool_calls[0].function
        return (fn.name, json.loads(fn.arguments)), r.usage.total_tokens

    @staticmethod
    def _chunk(chunk: Any, parts: list[str]) -> None:
        if chunk.choices:
            content = chunk.choices[0].delta.content
            if content:
                parts.append(content)

    def stream(self) -> Reply:
        parts: list[str] = []
        with self.client.stream_chat(model=MODEL, messages=MESSAGES) as s:
            for chunk in s:
                self._chunk(chunk, parts)
        return "".join(parts), s.result.usage.total_tokens

    async def astream(self) -> Reply:
        parts: list[str] = []
        async with await self._aclient().stream_chat(model=MODEL, messages=MESSAGES) as s:
            async for chunk in s:
                self._chunk(chunk, parts)
        return "".join(parts), s.result.usage.total_tokens

    def close(self) -> None:
        self.client.close()


# --- LangChain chat models (ChatOpenAI, ChatHolySheep, the floor model) ----------------


class LangChainDriver:
    def __init__(self, llm: Any) -> None:
        from langchain_core.messages import HumanMessage, SystemMessage

        self.llm = llm
        self.messages = [SystemMessage(SYSTEM), HumanMessage(USER)]
        self.tool_llm = llm.bind_tools(TOOLS)

    @staticmethod
    def _total(msg: Any) -> int | None:
        usage = getattr(msg, "usage_metadata", None)
        return usage["total_tokens"] if usage else None

    def request(self) -> Reply:
        m = self.llm.invoke(self.messages)
        return m.content, self._total(m)

    async def arequest(self) -> Reply:
        m = await self.llm.ainvoke(self.messages)
        return m.content, self._total(m)

    def tool(self) -> Reply:
        m = self.tool_llm.invoke(self.messages)
        call = m.tool_calls[0]
        return (call["name"], call["args"]), self._total(m)

    def stream(self) -> Reply:
        parts: list[str] = []
        total = None
        for chunk in self.llm.stream(self.messages):
            if chunk.content:
                parts.append(chunk.content)
            total = self._total(chunk) or total
        return "".join(parts), total

    async def astream(self) -> Reply:
        parts: list[str] = []
        total = None
        async for chunk in self.llm.astream(self.messages):
            if chunk.content:
                parts.append(chunk.content)
            total = self._total(chunk) or total
        return "".join(parts), total


# --- LlamaIndex LLMs (OpenAILike, HolySheep, the floor LLM) -----------------------------


class LlamaIndexDriver:
    def __init__(self, llm: Any) -> None:
        from llama_index.core.llms import ChatMessage
        from llama_index.core.tools import FunctionTool

        self.llm = llm
        self.messages = [
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(role="user", content=USER),
        ]
        self.tools = [FunctionTool.from_defaults(fn=get_weather)]

    @staticmethod
    def _total(r: Any) -> int | None:
        total = r.additional_kwargs.get("total_tokens")
        if total is None and isinstance(r.raw, dict) and isinstance(r.raw.get("usage"), dict):
            total = r.raw["usage"].get("total_tokens")
        return total  # type: ignore[no-any-return]

    def request(self) -> Reply:
        r = self.llm.chat(self.messages)
        return r.message.content, self._total(r)

    async def arequest(self) -> Reply:
        r = await self.llm.achat(self.messages)
        return r.message.content, self._total(r)

    def tool(self) -> Reply:
        r = self.llm.chat_with_tools(self.tools, chat_history=list(self.messages))
        sel = self.llm.get_tool_calls_from_response(r, error_on_no_tool_call=True)[0]
        return (sel.tool_name, sel.tool_kwargs), self._total(r)

    def stream(self) -> Reply:
        last = None
        total = None
        for r in self.llm.stream_chat(self.messages):
            last = r
            total = self._total(r) or total
        assert last is not None
        return last.message.content, total

    async def astream(self) -> Reply:
        last = None
        total = None
        async for r in await self.llm.astream_chat(self.messages):
            last = r
            total = self._total(r) or total
        assert last is not None
        return last.message.content, total


def make_driver(key: str, port: int, chunks: int | None, trickle: bool = False) -> Any:
    """A fresh driver for ``key`` talking to the fake relay (streams of ``chunks``)."""
    url = base_url(port, chunks, trickle)
    n = chunks or 20
    if key == "httpx":
        return HttpxDriver(url)
    if key == "openai":
        return OpenAIDriver(url)
    if key == "relay":
        return RelayDriver(url)
    if key == "langchain_openai":
        from langchain_openai import ChatOpenAI

        return LangChainDriver(
            ChatOpenAI(model=MODEL, api_key=API_KEY, base_url=url, stream_usage=True)
        )
    if key == "langchain_holysheep":
        from langchain_holysheep import ChatHolySheep

        return LangChainDriver(ChatHolySheep(model=MODEL, api_key=API_KEY, base_url=url))
    if key == "openai_like":
        from llama_index.llms.openai_like import OpenAILike

        return LlamaIndexDriver(
            OpenAILike(
                model=MODEL,
                api_base=url,
                api_key=API_KEY,
                is_chat_model=True,
                is_function_calling_model=True,
                context_window=128000,
            )
        )
    if key == "llama_index_holysheep":
        from llama_index_holysheep import HolySheep

        return LlamaIndexDriver(HolySheep(model=MODEL, api_key=API_KEY, api_base=url))
    if key == "floor_langchain":
        from floor import langchain_floor_model

        return LangChainDriver(langchain_floor_model(n))
    if key == "floor_llama_index":
        from floor import llama_index_floor_model

        return LlamaIndexDriver(llama_index_floor_model(n))
    raise SystemExit(f"unknown client {key!r}; choose from {', '.join(SPECS)}")
