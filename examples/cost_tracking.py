"""Cost tracking: get_holysheep_callback() for LangChain, a UsageLedger for anything.

Prices are estimates from the shipped table; unknown prices are reported as unknown, not 0.

    python examples/cost_tracking.py
"""

from __future__ import annotations

from _relay import relay

from holysheep_relay import UsageLedger


def main() -> None:
    from langchain_holysheep import ChatHolySheep, get_holysheep_callback
    from llama_index_holysheep import HolySheep

    with relay("cost_tracking"):
        cheap = ChatHolySheep(model="deepseek-v3.2")
        strong = ChatHolySheep(model="claude-opus-4.6")
        with get_holysheep_callback() as cb:
            cheap.invoke("Classify: 'great product' -> positive or negative?")
            for _ in strong.stream("Write one careful sentence about risk."):
                pass
        print(f"  LangChain callback: {cb.total_tokens} tokens, ${cb.total_cost:.6f}")
        for model, totals in cb.by_model.items():
            print(f"    {model}: {totals.requests} requests, ${totals.cost_usd:.6f}")
        assert cb.successful_requests == 2
        assert cb.total_cost > 0

        ledger = UsageLedger()
        HolySheep(model="gpt-4.1", on_usage=ledger).complete("A LlamaIndex call, counted too.")
        ChatHolySheep(model="gpt-5.4", on_usage=ledger).invoke("No input price is published.")
        print(ledger.report())  # '+?' marks requests whose price is unknown
        assert ledger.by_model["gpt-5.4"].unpriced_requests == 1


if __name__ == "__main__":
    main()
