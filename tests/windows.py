"""Checking schedules against a window limit (the rate limiters' guarantee)."""

from __future__ import annotations

__all__ = ["max_in_window"]


def max_in_window(events: list[tuple[float, float]], width: float = 60.0) -> float:
    """The most units in any half-open window [a, a + width) of (time, units) events."""
    ordered = sorted(events)
    best = total = 0.0
    start = 0
    for t, units in ordered:
        total += units
        while ordered[start][0] <= t - width:
            total -= ordered[start][1]
            start += 1
        best = max(best, total)
    return best
