"""Tools and agents: LangChain bind_tools in a loop, and a LlamaIndex FunctionAgent.

python examples/tools_agent.py
"""

from __future__ import annotations

import asyncio

from _relay import relay


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def langchain_loop() -> None:
    from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
    from langchain_core.tools import tool

    from langchain_holysheep import ChatHolySheep

    add_tool = tool(add)
    llm = ChatHolySheep(model="claude-sonnet-4.5").bind_tools([add_tool], tool_choice="auto")
    messages: list[BaseMessage] = [HumanMessage("Please add 19 and 23 with the add tool.")]
    while True:
        reply = llm.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            messages.append(
                ToolMessage(str(add_tool.invoke(call["args"])), tool_call_id=call["id"])
            )
            print(f"  LangChain called {call['name']}{call['args']}")
    print(f"  LangChain answer: {reply.content}")
    assert "42" in str(reply.content)


async def llama_index_agent() -> None:
    from llama_index.core.agent.workflow import FunctionAgent

    from llama_index_holysheep import HolySheep

    agent = FunctionAgent(tools=[add], llm=HolySheep(model="claude-sonnet-4.5"))
    answer = await agent.run(user_msg="Please add 19 and 23 with the add tool.")
    print(f"  LlamaIndex FunctionAgent answer: {answer}")
    assert "42" in str(answer)


def main() -> None:
    with relay("tools_agent"):
        langchain_loop()
        asyncio.run(llama_index_agent())


if __name__ == "__main__":
    main()
