"""The in-memory sliding-window limiter on a fake clock: never more than the limit started in
any 60-second window, in requests and in tokens (estimates until reconciled)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holysheep_relay import ConfigurationError, RateLimiter
from holysheep_relay.ratelimit import DEFAULT_MARGIN, WINDOW
from tests.windows import max_in_window

SPAN = WINDOW + DEFAULT_MARGIN


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_max_in_window_is_not_vacuous() -> None:
    assert max_in_window([(0.0, 1.0), (59.9, 1.0)]) == 2.0
    assert max_in_window([(0.0, 1.0), (60.0, 1.0)]) == 1.0


def test_requests_per_minute_window() -> None:
    clock = Clock()
    limiter = RateLimiter(requests_per_minute=2, clock=clock)
    assert [limiter.reserve().wait for _ in range(2)] == [0.0, 0.0]
    assert limiter.reserve().wait == pytest.approx(SPAN)  # the window is full until then
    assert limiter.reserve().wait == pytest.approx(SPAN)  # the window after holds two
    assert limiter.reserve().wait == pytest.approx(2 * SPAN)
    clock.t = 10 * SPAN
    assert limiter.reserve().wait == 0.0


def test_no_burst_of_twice_the_limit_after_an_idle_minute() -> None:
    """A token bucket full after an idle minute lets 2x the limit into one window; not this."""
    clock = Clock()
    limiter = RateLimiter(requests_per_minute=10, clock=clock)
    clock.t = 120.0  # idle for two minutes
    grants = [clock.t + limiter.reserve().wait for _ in range(10)]
    clock.t = 179.0  # 59 s later: another ten would make twenty in [120, 180)
    grants += [clock.t + limiter.reserve().wait for _ in range(10)]
    assert max_in_window([(t, 1.0) for t in grants]) == 10
    assert min(grants[10:]) == pytest.approx(120.0 + SPAN)


def test_tokens_window_and_reconcile() -> None:
    clock = Clock()
    limiter = RateLimiter(tokens_per_minute=600, clock=clock)
    first = limiter.reserve(tokens=500)
    assert first.wait == 0.0
    assert limiter.reserve(tokens=200).wait == pytest.approx(SPAN)  # 700 > 600
    limiter.reconcile(first, actual=100)  # the first call used 100: 400 come back
    assert limiter.reserve(tokens=100).wait == pytest.approx(SPAN)  # FIFO: behind the 200


def test_reconcile_frees_room_for_later_calls() -> None:
    clock = Clock()
    limiter = RateLimiter(tokens_per_minute=600, clock=clock)
    first = limiter.reserve(tokens=500)
    limiter.reconcile(first, actual=100)
    assert limiter.reserve(tokens=450).wait == 0.0  # 100 + 450 fit
    assert limiter.reserve(tokens=100).wait == pytest.approx(SPAN)  # 650 do not


def test_overrun_is_charged() -> None:
    clock = Clock()
    limiter = RateLimiter(tokens_per_minute=600, clock=clock)
    first = limiter.reserve(tokens=100)
    limiter.reconcile(first, actual=550)  # the estimate was low
    assert limiter.reserve(tokens=100).wait == pytest.approx(SPAN)


def test_oversized_request_needs_a_window_of_its_own() -> None:
    limiter = RateLimiter(tokens_per_minute=100, clock=Clock())
    assert limiter.reserve(tokens=10_000).wait == 0.0  # counted as the whole limit
    assert limiter.reserve(tokens=1).wait == pytest.approx(SPAN)


def test_both_limits_wait_for_the_slower() -> None:
    limiter = RateLimiter(requests_per_minute=60, tokens_per_minute=60, clock=Clock())
    assert limiter.reserve(tokens=60).wait == 0.0
    assert limiter.reserve(tokens=30).wait == pytest.approx(SPAN)
    assert limiter.reserve().wait == pytest.approx(SPAN)  # FIFO: never before the last grant


@pytest.mark.parametrize(
    "kwargs",
    [{"requests_per_minute": -1}, {"tokens_per_minute": 0}, {"margin": -1.0}],
)
def test_invalid_limits(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


# -- the guarantee, for any sequence of calls -------------------------------------------

operations = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=90.0),  # seconds before the call
        st.integers(min_value=0, max_value=700),  # its estimated tokens
        st.floats(min_value=0.0, max_value=1.0),  # its real usage, as a share of the estimate
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations, st.integers(1, 8), st.integers(100, 1_000))
def test_no_window_ever_holds_more_than_the_limit(
    ops: list[tuple[float, int, float]], rpm: int, tpm: int
) -> None:
    clock = Clock()
    limiter = RateLimiter(requests_per_minute=rpm, tokens_per_minute=tpm, clock=clock)
    requests: list[tuple[float, float]] = []
    tokens: list[tuple[float, float]] = []
    last = 0.0
    for gap, estimate, share in ops:
        clock.t += gap
        reservation = limiter.reserve(tokens=estimate)
        at = clock.t + reservation.wait
        assert at >= last - 1e-9  # first in, first out
        last = at
        actual = int(estimate * share)
        limiter.reconcile(reservation, actual)
        requests.append((at, 1.0))
        tokens.append((at, float(min(actual, tpm))))
    assert max_in_window(requests) <= rpm
    assert max_in_window(tokens) <= tpm


def test_the_limiter_is_not_needlessly_slow() -> None:
    """Requests queued at once get one window each per ``rpm``: the earliest legal times."""
    limiter = RateLimiter(requests_per_minute=5, clock=Clock())
    waits = [limiter.reserve().wait for _ in range(12)]
    assert waits == pytest.approx([(i // 5) * SPAN for i in range(12)])


def test_shared_limiter_across_sync_and_async_really_waits() -> None:
    limiter = RateLimiter(requests_per_minute=600, margin=0.0)
    clock_start = limiter.reserve().wait
    assert clock_start == 0.0
    for _ in range(599):
        limiter.reserve()
    reservation = asyncio.run(limiter.areserve())
    assert reservation.wait > 59.0  # the 601st waits for the first to leave the window
