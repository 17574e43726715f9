"""A tour of holysheep-integrations in one script.

1. an LCEL chain (prompt | ChatHolySheep | parser), streamed to the terminal
2. a tool-calling agent loop
3. structured output into a pydantic model
4. a LlamaIndex query engine over a few local documents
5. a usage report: tokens and USD per model

    python examples/quickstart.py      # no key: answers come from the local emulator

With HOLYSHEEP_API_KEY set it calls the live relay instead. Exits non-zero on any failure.
"""

from __future__ import annotations

import textwrap

from _relay import relay

from holysheep_relay import UsageLedger

CHAT_MODEL = "gpt-4.1"


def lcel_chain(ledger: UsageLedger) -> None:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    from langchain_holysheep import ChatHolySheep

    prompt = ChatPromptTemplate.from_messages(
        [("system", "You answer in one short sentence."), ("user", "{question}")]
    )
    chain = prompt | ChatHolySheep(model=CHAT_MODEL, on_usage=ledger) | StrOutputParser()
    print("\n== 1. LCEL chain, streamed ==")
    pieces = []
    for piece in chain.stream({"question": "Why do relays stream tokens?"}):
        print(piece, end="", flush=True)
        pieces.append(piece)
    print()
    assert "".join(pieces).strip(), "the chain streamed nothing"


def agent_loop(ledger: UsageLedger) -> None:
    from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
    from langchain_core.tools import tool

    from langchain_holysheep import ChatHolySheep

    @tool
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    print("\n== 2. Tool-calling agent loop ==")
    llm = ChatHolySheep(model=CHAT_MODEL, on_usage=ledger).bind_tools([multiply])
    messages: list[BaseMessage] = [HumanMessage("Use multiply: what is 6 times 7?")]
    for _ in range(4):
        reply = llm.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            result = multiply.invoke(call["args"])
            print(f"  tool {call['name']}({call['args']}) -> {result}")
            messages.append(ToolMessage(str(result), tool_call_id=call["id"]))
    print(f"  answer: {messages[-1].content}")
    assert "42" in str(messages[-1].content), "the agent did not use the tool result"


def structured_output(ledger: UsageLedger) -> None:
    from pydantic import BaseModel, Field

    from langchain_holysheep import ChatHolySheep

    class City(BaseModel):
        name: str = Field(description="the city's name")
        country: str = Field(description="the country it is in")
        population_millions: float = Field(description="population in millions")

    print("\n== 3. Structured output ==")
    llm = ChatHolySheep(model=CHAT_MODEL, on_usage=ledger)
    city = llm.with_structured_output(City).invoke("Describe the city of Lyon in France.")
    print(f"  {city!r}")
    assert isinstance(city, City)


def query_engine(ledger: UsageLedger) -> None:
    from llama_index.core import Document, VectorStoreIndex

    from llama_index_holysheep import HolySheep, HolySheepEmbedding

    print("\n== 4. LlamaIndex query engine ==")
    docs = [
        Document(text="The HolySheep relay exposes Claude, GPT, Gemini and DeepSeek models."),
        Document(text="Sheep are grazing animals kept for wool, meat and milk."),
        Document(text="Streaming responses send one chunk per token over server-sent events."),
    ]
    embed = HolySheepEmbedding(model="text-embedding-3-small", dimensions=64, on_usage=ledger)
    index = VectorStoreIndex.from_documents(docs, embed_model=embed)
    llm = HolySheep(model=CHAT_MODEL, on_usage=ledger)
    answer = index.as_query_engine(llm=llm, similarity_top_k=1).query(
        "Which models does the relay expose?"
    )
    print(f"  {textwrap.shorten(str(answer), 160)}")
    print(f"  source: {answer.source_nodes[0].node.get_content()}")
    assert "relay" in answer.source_nodes[0].node.get_content()


def main() -> None:
    with relay("quickstart"):
        ledger = UsageLedger()
        lcel_chain(ledger)
        agent_loop(ledger)
        structured_output(ledger)
        query_engine(ledger)
        print("\n== 5. Usage (USD are estimates from the shipped price table) ==")
        print(ledger.report())
        assert ledger.total.requests >= 6


if __name__ == "__main__":
    main()
