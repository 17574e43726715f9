"""``run_batch()``: send a JSONL file of requests (OpenAI Batch API format) through the
relay, resumably, within the rate limits and budget, with progress; ``holysheep batch``.

The input is streamed (read twice: once to refuse duplicate ``custom_id``s before anything
is sent, once to send); a bounded queue feeds ``concurrency`` worker tasks, so memory stays
flat. Each result is appended to the output and flushed as it completes. Rerun with the
same output file to send only what has no success line yet. The guide is docs/batch.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from ._batch_input import BadLine, BatchRequest, custom_id_of, parse_line
from ._batch_output import error_line, keep_successes, success_line
from ._batch_progress import Progress
from .budget import SpendBudget
from .client import AsyncRelayClient
from .errors import (
    BudgetExceededError,
    ConfigurationError,
    InvalidInputError,
    RelayError,
    scrub_secrets,
)
from .ratelimit import Limiter, RateLimiter
from .wire import ChatCompletion, EmbeddingResult

__all__ = ["BatchSummary", "run_batch"]

GRACE_SECONDS = 5.0  # in-flight requests get this long to finish after a stop
INTERRUPTED = 130


@dataclass
class BatchSummary:
    """What a batch did. ``usd`` is None when a model's price is unknown; ``stopped`` says
    why a batch stopped early (``"interrupted"``, or the budget's message), else None."""

    lines: int = 0
    succeeded: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    tokens: int = 0
    usd: float | None = 0.0
    elapsed: float = 0.0
    stopped: str | None = None

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    @property
    def exit_code(self) -> int:
        """0 all succeeded, 1 some failed, 130 stopped early (interrupt or budget)."""
        if self.stopped is not None:
            return INTERRUPTED
        return 1 if self.failed_total else 0

    def report(self) -> str:
        usd = "unknown" if self.usd is None else f"${self.usd:.6f}"
        failed = ", ".join(f"{n} {k}" for k, n in sorted(self.failed.items())) or "0"
        text = (
            f"batch: {self.lines} lines, {self.succeeded} succeeded, failed: {failed}, "
            f"{self.skipped} skipped (already done), {self.tokens:,} tokens, {usd}, "
            f"{self.elapsed:.1f} s"
        )
        if self.stopped is not None:
            text += f"\nstopped early: {self.stopped}; run it again to finish the rest"
        return text


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based number, text) of each non-blank line, streamed."""
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if text.strip():
                yield number, text


def scan_ids(path: Path) -> tuple[int, set[str]]:
    """(line count, the custom_ids); InvalidInputError naming the lines of any duplicate."""
    first: dict[str, int] = {}
    dupes: dict[str, list[int]] = {}
    count = 0
    for number, text in _lines(path):
        count += 1
        custom_id = custom_id_of(text)
        if custom_id is None:
            continue
        if custom_id in first:
            dupes.setdefault(custom_id, [first[custom_id]]).append(number)
        else:
            first[custom_id] = number
    if dupes:
        shown = "; ".join(
            f"{cid!r} on lines {', '.join(map(str, nums))}" for cid, nums in list(dupes.items())[:5]
        )
        more = f" (and {len(dupes) - 5} more)" if len(dupes) > 5 else ""
        raise InvalidInputError(f"duplicate custom_id in {path}: {shown}{more}; nothing was sent")
    return count, set(first)


def _append(path: Path) -> IO[str]:
    """The output, opened for appending (one line written and flushed per result)."""
    return path.open("a", encoding="utf-8")


def _embedding_body(result: EmbeddingResult) -> dict[str, Any]:
    data = [
        {"object": "embedding", "index": i, "embedding": vector}
        for i, vector in enumerate(result.vectors)
    ]
    body: dict[str, Any] = {"object": "list", "data": data, "model": result.model}
    body["usage"] = result.usage.to_wire() if result.usage else None
    return body


class _Run:
    """One batch run's state: counters, the output file, the stop signal."""

    def __init__(
        self, client: AsyncRelayClient, out: IO[str], summary: BatchSummary, progress: Progress
    ) -> None:
        self.client = client
        self.out = out
        self.summary = summary
        self.progress = progress
        self.stop = asyncio.Event()
        self.failed: Counter[str] = Counter()
        key = client.config.api_key
        self.secrets = [key.get_secret_value()] if key else []

    def write(self, line: str) -> None:
        self.out.write(scrub_secrets(line, *self.secrets))
        self.out.flush()

    def fail(self, custom_id: str | None, code: str, message: str) -> None:
        self.failed[code] += 1
        self.summary.failed = dict(self.failed)
        self.write(error_line(custom_id, code, message))
        self.progress.update(self.summary)

    def succeed(self, custom_id: str, result: ChatCompletion | EmbeddingResult) -> None:
        if isinstance(result, ChatCompletion):
            body = result.raw or result.model_dump(mode="json")
        else:
            body = _embedding_body(result)
        self.write(success_line(custom_id, result.request_id, body))
        self.summary.succeeded += 1
        self.summary.tokens += result.usage.total_tokens if result.usage else 0
        if result.cost_usd is None or self.summary.usd is None:
            self.summary.usd = None
        else:
            self.summary.usd += result.cost_usd
        self.progress.update(self.summary)

    async def send(self, request: BatchRequest) -> None:
        client = self.client
        try:
            result: ChatCompletion | EmbeddingResult
            if request.kind == "chat":
                params = dict(request.params)
                messages = params.pop("messages")
                result = await client.chat(model=request.model, messages=messages, **params)
            else:
                params = dict(request.params)
                text = params.pop("input")
                result = await client.embed(model=request.model, input=text, **params)
        except BudgetExceededError as exc:  # not a failure of the line: a rerun sends it
            if self.summary.stopped is None:
                self.summary.stopped = f"the budget ran out ({exc})"
            self.stop.set()
            return
        except RelayError as exc:
            self.fail(request.custom_id, type(exc).__name__, str(exc))
            return
        except Exception as exc:  # a body the client cannot send: still one line for it
            message = f"line {request.line}: the body cannot be sent ({type(exc).__name__}: {exc})"
            self.fail(request.custom_id, InvalidInputError.__name__, message)
            return
        self.succeed(request.custom_id, result)

    async def worker(self, queue: asyncio.Queue[BatchRequest | None]) -> None:
        while True:
            request = await queue.get()
            if request is None:
                return
            if not self.stop.is_set():
                await self.send(request)

    async def produce(
        self,
        path: Path,
        model: str | None,
        done: set[str],
        queue: asyncio.Queue[BatchRequest | None],
    ) -> None:
        for number, text in _lines(path):
            if self.stop.is_set():
                return
            item = parse_line(text, number, model)
            if item.custom_id is not None and item.custom_id in done:
                continue
            if isinstance(item, BadLine):
                self.fail(item.custom_id, InvalidInputError.__name__, item.message)
            else:
                await queue.put(item)


async def _drive(run: _Run, path: Path, model: str | None, done: set[str], n: int) -> None:
    queue: asyncio.Queue[BatchRequest | None] = asyncio.Queue(maxsize=2 * n)
    workers = [asyncio.create_task(run.worker(queue)) for _ in range(n)]
    producer = asyncio.create_task(run.produce(path, model, done, queue))
    stopped = asyncio.create_task(run.stop.wait())
    await asyncio.wait({producer, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if run.stop.is_set():
        producer.cancel()
        while not queue.empty():  # what was queued is not sent: a rerun sends it
            queue.get_nowait()
    with contextlib.suppress(asyncio.CancelledError):
        await producer
    for _ in workers:
        await queue.put(None)
    if not run.stop.is_set():
        everyone: asyncio.Future[Any] = asyncio.gather(*workers, return_exceptions=True)
        await asyncio.wait([everyone, stopped], return_when=asyncio.FIRST_COMPLETED)
    if run.stop.is_set():
        _, pending = await asyncio.wait(workers, timeout=GRACE_SECONDS)
        for task in pending:
            task.cancel()
    stopped.cancel()
    await asyncio.gather(*workers, stopped, return_exceptions=True)


def _on_signals(loop: asyncio.AbstractEventLoop, run: _Run) -> list[signal.Signals]:
    def interrupt() -> None:
        if run.summary.stopped is None:
            run.summary.stopped = "interrupted"
        run.stop.set()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, interrupt)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
            continue
        installed.append(sig)
    return installed


async def arun_batch(
    input_path: str | Path,
    output_path: str | Path,
    *,
    model: str | None = None,
    concurrency: int = 16,
    client: AsyncRelayClient | None = None,
    rate_limiter: Limiter | None = None,
    budget: SpendBudget | None = None,
    progress: bool = True,
    max_retries: int | None = None,
) -> BatchSummary:
    """The async form of :func:`run_batch` (which see)."""
    if concurrency < 1:
        raise ConfigurationError(f"concurrency must be >= 1, got {concurrency}")
    if client is not None and (rate_limiter or budget or max_retries is not None):
        raise ConfigurationError(
            "pass rate_limiter, budget and max_retries to the client you give, not run_batch"
        )
    source, target = Path(input_path), Path(output_path)
    started = time.monotonic()
    count, ids = scan_ids(source)  # duplicates refused before anything is sent
    done = keep_successes(target, ids)
    summary = BatchSummary(lines=count, skipped=len(done))
    options: dict[str, Any] = {"rate_limiter": rate_limiter, "budget": budget}
    if max_retries is not None:
        options["max_retries"] = max_retries
    own = client is None
    relay = AsyncRelayClient(**options) if client is None else client
    bar = Progress.create(progress, count - len(done))
    loop = asyncio.get_running_loop()
    try:
        with _append(target) as out, bar:
            run = _Run(relay, out, summary, bar)
            installed = _on_signals(loop, run)
            try:
                await _drive(run, source, model, done, concurrency)
            finally:
                for sig in installed:
                    loop.remove_signal_handler(sig)
    finally:
        if own:
            await relay.aclose()
    summary.elapsed = time.monotonic() - started
    return summary


def run_batch(
    input_path: str | Path,
    output_path: str | Path,
    *,
    model: str | None = None,
    concurrency: int = 16,
    client: AsyncRelayClient | None = None,
    rate_limiter: Limiter | None = None,
    budget: SpendBudget | None = None,
    progress: bool = True,
) -> BatchSummary:
    """Send every line of ``input_path`` (JSONL, OpenAI Batch API format, or
    ``{"custom_id", "messages"}`` / ``{"custom_id", "prompt"}`` with ``model``) and write
    one OpenAI batch output line per input line to ``output_path``.

    Resumable: lines with a success line in ``output_path`` are skipped, failed ones sent
    again. Duplicate ``custom_id``s raise :class:`InvalidInputError` before anything is
    sent. Ctrl-C / SIGTERM or a spent ``budget`` stop the batch cleanly (in-flight requests
    get a few seconds); ``BatchSummary.stopped`` says so. ``client``: an
    ``AsyncRelayClient`` of yours (else one from the environment, with ``rate_limiter`` and
    ``budget``). ``progress``: a live bar on a terminal (``pip install
    holysheep-integrations[progress]``), else a log line every few seconds on stderr.
    """
    return asyncio.run(
        arun_batch(
            input_path,
            output_path,
            model=model,
            concurrency=concurrency,
            client=client,
            rate_limiter=rate_limiter,
            budget=budget,
            progress=progress,
        )
    )


# -- holysheep batch -------------------------------------------------------------------------


def add_parser(sub: Any, common: argparse.ArgumentParser, described: dict[str, Any]) -> None:
    p = sub.add_parser(
        "batch",
        parents=[common],
        help="send a JSONL batch (OpenAI Batch API format), resumable",
        **described,
    )
    p.add_argument("input", type=Path, metavar="INPUT.jsonl")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUTPUT.jsonl")
    p.add_argument("--model", "-m", help="the model of lines that name none")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight (16)")
    p.add_argument("--rpm", type=float, help="requests per minute")
    p.add_argument("--tpm", type=float, help="tokens per minute")
    p.add_argument("--budget-usd", type=float, help="stop before spending more than this")
    p.add_argument("--redis", metavar="URL", help="share the limits and budget (name batch)")
    p.add_argument("--max-retries", type=int, help="retries per request (client default 2)")
    p.add_argument("--no-progress", action="store_true", help="no bar or progress lines")
    p.set_defaults(func=command)


def _limiter(args: argparse.Namespace) -> Limiter | None:
    if not (args.rpm or args.tpm):
        return None
    if args.redis:
        from .redis_limiter import RedisRateLimiter

        return RedisRateLimiter(
            args.redis, requests_per_minute=args.rpm, tokens_per_minute=args.tpm, name="batch"
        )
    return RateLimiter(requests_per_minute=args.rpm, tokens_per_minute=args.tpm)


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    budget = None
    if args.budget_usd is not None:
        budget = SpendBudget(args.budget_usd, period=None, store=args.redis, name="batch")
    options: dict[str, Any] = {"rate_limiter": _limiter(args), "budget": budget}
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    client = AsyncRelayClient(base_url=args.base_url, timeout=args.timeout, **options)

    async def go() -> BatchSummary:
        async with client:
            return await arun_batch(
                args.input,
                args.output,
                model=args.model,
                concurrency=args.concurrency,
                client=client,
                progress=not args.no_progress,
            )

    try:
        summary = asyncio.run(go())
    except (InvalidInputError, OSError) as exc:  # duplicates, a missing or unreadable file
        err.write(f"error: {exc}\n")
        return 2
    out.write(summary.report() + "\n")
    out.flush()
    return summary.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: holysheep batch INPUT.jsonl -o OUTPUT.jsonl")
