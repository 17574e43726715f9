"""A batch's progress: a live ``rich`` bar on a terminal (the ``progress`` extra), else a
plain log line every few seconds on stderr. rich is imported only when a bar is shown."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, Protocol

__all__ = ["Progress"]

LOG_EVERY = 5.0  # seconds between plain progress lines


class _Counts(Protocol):
    succeeded: int
    tokens: int
    usd: float | None

    @property
    def failed_total(self) -> int: ...


def _stats(counts: _Counts, started: float, total: int) -> tuple[int, str]:
    done = counts.succeeded + counts.failed_total
    elapsed = max(time.monotonic() - started, 1e-9)
    rate = done / elapsed
    usd = "USD unknown" if counts.usd is None else f"${counts.usd:.4f}"
    eta = f"{(total - done) / rate:.0f} s" if rate > 0 and total > done else "-"
    text = (
        f"{done}/{total} done, {counts.failed_total} failed, {rate:.1f} req/s, "
        f"{counts.tokens:,} tokens, {usd}, ETA {eta}"
    )
    return done, text


class Progress:
    """No display; :meth:`create` picks the bar or the log lines."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.started = time.monotonic()

    @staticmethod
    def create(enabled: bool, total: int) -> Progress:
        if not enabled:
            return Progress(total)
        if sys.stdout.isatty():
            try:
                import rich.progress  # noqa: F401
            except ImportError:
                pass
            else:
                return _Bar(total)
        return _Lines(total)

    def update(self, counts: _Counts) -> None:
        """Called after each result."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class _Lines(Progress):
    def __init__(self, total: int) -> None:
        super().__init__(total)
        self._last = self.started

    def update(self, counts: _Counts) -> None:
        now = time.monotonic()
        if now - self._last >= LOG_EVERY:
            self._last = now
            sys.stderr.write(f"batch: {_stats(counts, self.started, self.total)[1]}\n")
            sys.stderr.flush()


class _Bar(Progress):
    def __init__(self, total: int) -> None:
        super().__init__(total)
        from rich.progress import BarColumn, TextColumn
        from rich.progress import Progress as RichProgress

        self._rich = RichProgress(
            TextColumn("batch"), BarColumn(), TextColumn("{task.fields[stats]}")
        )
        self._task: Any = self._rich.add_task("batch", total=total, stats="starting")

    def update(self, counts: _Counts) -> None:
        done, text = _stats(counts, self.started, self.total)
        self._rich.update(self._task, completed=done, stats=text)

    def __enter__(self) -> Progress:
        self._rich.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._rich.stop()
