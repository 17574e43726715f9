"""A sliding log of weighted grants: never more than ``limit`` in any window of ``span`` s.

Pure bookkeeping (no clock, no lock): the in-memory :class:`~holysheep_relay.RateLimiter`
drives it, and the Redis limiter's Lua script (``redis_limiter._RESERVE``) is the same
algorithm line for line, so both give the same guarantee:

- grants are first in, first out: a new grant is never earlier than the last one, so every
  entry in the log is at or before a new grant's time ``at``, and the heaviest window
  holding ``at`` is ``(at - span, at]``;
- a grant of ``w`` is placed at the earliest ``at`` at which the entries still inside
  ``(at - span, at]`` plus ``w`` fit in ``limit`` (the oldest entries leave the window
  first, so that time is "when enough of the oldest have left");
- a weight above ``limit`` is counted as ``limit`` (it then needs a window of its own);
- ``reweigh`` sets a grant's real weight afterwards (a call's real token usage).

So the weights granted in any window of ``span`` seconds sum to at most ``limit``, counting
each grant at its weight when later grants were placed (its estimate until reweighed).

>>> log = SlidingLog(limit=2, span=60.0)
>>> grants = []
>>> for _ in range(3):
...     at = log.earliest(1, floor=max(0.0, log.last() or 0.0))
...     grants.append(log.add(at, 1).at)
>>> grants                              # grant times: the third waits for the window
[0.0, 0.0, 60.0]
"""

from __future__ import annotations

from collections import deque

__all__ = ["Entry", "SlidingLog"]


class Entry:
    """One grant: its time and weight; ``live`` until it leaves the log."""

    __slots__ = ("at", "live", "weight")

    def __init__(self, at: float, weight: float) -> None:
        self.at = at
        self.weight = weight
        self.live = True


class SlidingLog:
    __slots__ = ("entries", "limit", "span", "total")

    def __init__(self, limit: float, span: float) -> None:
        self.limit = float(limit)
        self.span = float(span)
        self.entries: deque[Entry] = deque()
        self.total = 0.0

    def trim(self, now: float) -> None:
        """Forget grants at or before ``now - span``: no window ending at or after ``now``
        holds them."""
        horizon = now - self.span
        entries = self.entries
        while entries and entries[0].at <= horizon:
            entry = entries.popleft()
            entry.live = False
            self.total -= entry.weight

    def last(self) -> float | None:
        return self.entries[-1].at if self.entries else None

    def earliest(self, weight: float, floor: float) -> float:
        """The earliest time at or after ``floor`` (>= the last grant) at which ``weight``
        fits in every window holding it."""
        weight = min(weight, self.limit)
        need = self.total + weight - self.limit
        if need <= 0:
            return floor
        gone = 0.0
        for entry in self.entries:
            gone += entry.weight
            if gone >= need:
                return max(floor, entry.at + self.span)
        return max(floor, self.entries[-1].at + self.span)  # only when weights were reweighed

    def add(self, at: float, weight: float) -> Entry:
        entry = Entry(at, min(weight, self.limit))
        self.entries.append(entry)
        self.total += entry.weight
        return entry

    def reweigh(self, entry: Entry, weight: float) -> None:
        """Set ``entry``'s real weight (a no-op once it has left the log)."""
        if entry.live:
            self.total += weight - entry.weight
            entry.weight = weight
