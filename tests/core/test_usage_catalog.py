"""Pricing table, cost computation, usage ledger, model catalog and aliases."""

from __future__ import annotations

import threading

import pytest

from holysheep_relay import (
    ModelPrice,
    Pricing,
    Usage,
    UsageEvent,
    UsageLedger,
    get_model_spec,
    known_model_ids,
    resolve_model,
)


def usage(p: int, c: int, cached: int = 0) -> Usage:
    return Usage(prompt_tokens=p, completion_tokens=c, total_tokens=p + c, cached_tokens=cached)


def test_shipped_prices_cover_catalog_models_with_known_prices() -> None:
    pricing = Pricing.default()
    assert pricing.cost("gpt-4.1", usage(1_000_000, 1_000_000)) == pytest.approx(10.0)
    assert pricing.cost("sonnet-4", usage(1_000_000, 0)) == pytest.approx(3.0)  # alias
    assert pricing.cost("deepseek-v3.2", usage(0, 1_000_000)) == pytest.approx(0.42)


def test_unknown_price_is_none_never_zero() -> None:
    pricing = Pricing.default()
    assert pricing.cost("some-new-model", usage(10, 10)) is None
    assert pricing.cost("gpt-5.4", usage(10, 10)) is None  # only an output price is quoted
    assert pricing.cost("gpt-4.1", None) is None


def test_user_overrides_and_cached_input_rate() -> None:
    pricing = Pricing.coerce({"gpt-4.1": {"input": 1.0, "output": 2.0, "cached_input": 0.1}})
    cost = pricing.cost("gpt-4.1", usage(1_000_000, 1_000_000, cached=500_000))
    assert cost == pytest.approx(0.5 + 0.05 + 2.0)
    assert pricing.cost("claude-opus-4.7", usage(1_000_000, 0)) == pytest.approx(18.0)
    custom = Pricing({"x": ModelPrice(input=1, output=1)})
    assert "x" in custom
    assert "gpt-4.1" not in custom


def event(model: str, p: int, c: int, cost: float | None) -> UsageEvent:
    return UsageEvent(model, usage(p, c), cost, 1.0, "r")


def test_ledger_totals_per_model_and_is_thread_safe() -> None:
    ledger = UsageLedger()

    def work() -> None:
        for _ in range(1000):
            ledger(event("a", 2, 1, 0.5))
            ledger(event("b", 1, 1, None))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.total.requests == 8000
    assert ledger.by_model["a"].prompt_tokens == 8000
    assert ledger.by_model["a"].cost_usd == pytest.approx(2000.0)
    assert ledger.by_model["b"].unpriced_requests == 4000
    assert "+?" in ledger.report()  # unpriced requests are flagged, not counted as free


def test_catalog_specs_aliases_and_defaults() -> None:
    assert resolve_model("sonnet-4") == "claude-sonnet-4-20250514"
    assert resolve_model("OPUS-4") == "claude-opus-4-20250514"
    assert resolve_model("unknown-x") == "unknown-x"
    haiku = get_model_spec("haiku-4")
    assert (haiku.context_window, haiku.max_output_tokens, haiku.supports_vision) == (
        200000,
        4096,
        False,
    )
    gemini = get_model_spec("gemini-2.5-flash")
    assert (gemini.context_window, gemini.verified) == (1_048_576, True)
    gpt = get_model_spec("gpt-4.1")  # the vendor's figures, not the articles' 128K
    assert (gpt.context_window, gpt.max_output_tokens, gpt.verified) == (1_047_576, 32_768, True)
    assert haiku.verified is False  # the articles' figures: marked unverified
    assert get_model_spec("deepseek-v3.2").supports_json_schema is False
    assert get_model_spec("gpt-4.1").supports_json_schema is True
    unknown = get_model_spec("brand-new-model")
    assert unknown.known is False
    assert unknown.context_window == 32768
    assert get_model_spec("text-embedding-3-large").is_embedding
    assert {"opus-4", "sonnet-4", "haiku-4"} <= set(known_model_ids())
    # the wrong names the articles warn about are not silently aliased
    for wrong in ("claude-opus", "opus-4.7", "claude-opus-4.6b"):
        assert resolve_model(wrong) == wrong
