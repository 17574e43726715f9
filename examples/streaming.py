"""Streaming with ChatHolySheep (sync and async) and LlamaIndex's HolySheep.

Usage arrives once, on the last chunk; cost and request id are in its response_metadata.

    python examples/streaming.py
"""

from __future__ import annotations

import asyncio

from _relay import relay


def langchain_stream() -> None:
    from langchain_holysheep import ChatHolySheep

    llm = ChatHolySheep(model="claude-sonnet-4.5", max_tokens=200)
    full = None
    for chunk in llm.stream("Stream three words about wool."):
        print(chunk.content, end="", flush=True)
        full = chunk if full is None else full + chunk
    assert full is not None
    assert full.usage_metadata is not None
    print(f"\n  usage={full.usage_metadata} cost_usd={full.response_metadata['cost_usd']}")


async def langchain_astream() -> None:
    from langchain_holysheep import ChatHolySheep

    llm = ChatHolySheep(model="deepseek-v3.2")
    async for chunk in llm.astream("And now asynchronously."):
        print(chunk.content, end="", flush=True)
    print()


def llama_index_stream() -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_holysheep import HolySheep

    llm = HolySheep(model="gemini-2.5-flash")
    last = None
    for last in llm.stream_chat([ChatMessage(role="user", content="Stream from LlamaIndex.")]):
        print(last.delta or "", end="", flush=True)
    assert last is not None
    print(f"\n  whole message: {last.message.content!r}")
    print(f"  tokens: {last.additional_kwargs['total_tokens']}")


def main() -> None:
    with relay("streaming"):
        langchain_stream()
        asyncio.run(langchain_astream())
        llama_index_stream()


if __name__ == "__main__":
    main()
