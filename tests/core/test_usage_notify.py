"""holysheep_relay.usage helpers: notify, as_callbacks, as_pricing."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from holysheep_relay import ConfigurationError, Pricing, Usage, UsageEvent, UsageLedger
from holysheep_relay.usage import as_callbacks, as_pricing, notify

EVENT = UsageEvent(
    "gpt-4.1", Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5), 0.1, 9.0, "req_7"
)


def test_notify_calls_every_callback_in_order() -> None:
    seen: list[tuple[str, UsageEvent]] = []
    ledger = UsageLedger()
    notify([lambda e: seen.append(("a", e)), ledger, lambda e: seen.append(("b", e))], EVENT)
    assert seen == [("a", EVENT), ("b", EVENT)]
    assert ledger.total.requests == 1
    assert ledger.total.total_tokens == 5


def test_notify_logs_and_swallows_a_failing_callback(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[UsageEvent] = []

    def boom(event: UsageEvent) -> None:
        raise RuntimeError(f"bug while handling {event.request_id}")

    with caplog.at_level(logging.ERROR, logger="holysheep_relay"):
        notify((boom, seen.append, boom), EVENT)
    assert seen == [EVENT]  # the callbacks after a broken one still run
    failures = [r for r in caplog.records if r.name == "holysheep_relay"]
    assert len(failures) == 2
    assert all(r.exc_info and "bug while handling req_7" in str(r.exc_info[1]) for r in failures)
    assert "on_usage callback" in failures[0].getMessage()


def test_notify_lets_interrupts_through() -> None:
    def interrupt(_: UsageEvent) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        notify([interrupt], EVENT)


def test_notify_with_no_callbacks_does_nothing() -> None:
    notify((), EVENT)
    notify(iter([]), EVENT)


def test_as_callbacks_accepts_none_a_callable_or_callables() -> None:
    ledger = UsageLedger()
    assert as_callbacks(None) == ()
    assert as_callbacks(ledger) == (ledger,)
    assert as_callbacks([ledger, print]) == (ledger, print)
    assert as_callbacks((print,)) == (print,)


@pytest.mark.parametrize("bad", [42, "print", [print, 1], b"x"])
def test_as_callbacks_rejects_anything_else(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="on_usage"):
        as_callbacks(bad)


def test_as_pricing_validates_the_table() -> None:
    assert isinstance(as_pricing(None), Pricing)
    table = as_pricing({"my-model": {"input": 1.0, "output": 2.0}})
    assert table.cost("my-model", Usage(prompt_tokens=1_000_000)) == 1.0
    assert "gpt-4.1" in table  # the shipped table, overridden
    with pytest.raises(ConfigurationError, match="pricing"):
        as_pricing({"my-model": {"input": 1.0}})
    with pytest.raises(ConfigurationError, match="pricing"):
        as_pricing({"my-model": {"input": "cheap", "output": 1.0}})
