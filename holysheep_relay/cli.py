"""The ``holysheep`` command: check a setup, list models, chat once, estimate cost, and
print the usage totals that workers share in Redis.

Built on the standard library's argparse (no extra dependency); every subcommand has
``--help``. Exit codes: 0 success, 1 the relay or the call failed, 2 bad usage or
configuration (a missing or malformed key, a bad base URL, an empty prompt), found
before anything is sent.

    holysheep check
    holysheep models
    holysheep chat "Say hi" --model gpt-4.1 --stream
    holysheep cost --model claude-sonnet-4.5 --input-tokens 12000 --output-tokens 800
    holysheep usage --redis redis://127.0.0.1:6379/0 [--name default] [--day 2026-05-01]
    holysheep batch INPUT.jsonl -o OUTPUT.jsonl --model gpt-4.1 [--concurrency 16]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import textwrap
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, TextIO

from ._redis import RedisStore
from ._version import __version__
from .catalog import get_model_spec
from .client import RelayClient
from .config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, key_problem, normalize_base_url
from .errors import (
    AuthenticationError,
    ConfigurationError,
    ModelNotFoundError,
    PermissionDeniedError,
    RelayConnectionError,
    RelayError,
    RelayTimeoutError,
    StoreUnavailableError,
)
from .redis_usage import RedisUsageLedger
from .usage import ModelTotals, Pricing
from .wire import ModelInfo, Usage

__all__ = ["main"]

DEFAULT_CHAT_MODEL = "gpt-4.1"

# Exit codes (docs/cli.md lists them too).
FAILED = 1  # the relay or the call failed
USAGE = 2  # bad usage or configuration, found before sending (argparse uses 2 as well)

_ENV_HELP = f"""environment:
  {API_KEY_ENV}   your relay key (required): export {API_KEY_ENV}=hs_...
  {BASE_URL_ENV}  the relay's base URL, default {DEFAULT_BASE_URL}
                      (--base-url wins over it)
"""
_EXIT_HELP = "exit codes: 0 success, 1 the relay or the call failed, 2 bad usage or configuration"


def _described(description: str, *, env: bool) -> dict[str, Any]:
    """add_parser() arguments for a subcommand's --help: its description and an epilog
    naming the environment variables it reads (``env``) and the exit codes."""
    return {
        "description": textwrap.fill(description, 79),
        "epilog": f"{_ENV_HELP}\n{_EXIT_HELP}" if env else _EXIT_HELP,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


def _client(args: argparse.Namespace) -> RelayClient:
    return RelayClient(base_url=args.base_url, timeout=args.timeout)


def _fmt_price(model: str, pricing: Pricing) -> str:
    price = pricing.price(model)
    return f"${price.input:g} / ${price.output:g}" if price else "unknown"


def _caps(model: str) -> str:
    spec = get_model_spec(model)
    flags = [
        ("tools", spec.supports_tools),
        ("json", spec.supports_json_mode),
        ("schema", spec.supports_json_schema),
        ("vision", spec.supports_vision),
        ("reasoning", spec.supports_reasoning),
        ("embedding", spec.is_embedding),
    ]
    return ",".join(name for name, on in flags if on) if spec.known else "?"


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    key = os.environ.get(API_KEY_ENV, "")
    raw_url = args.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not key.strip():
        out.write(
            f"FAIL key: {API_KEY_ENV} is not set. Get a key from HolySheep and run\n"
            f"     export {API_KEY_ENV}=hs_...\n"
        )
        return USAGE
    problem = key_problem(key.strip())
    if problem:  # what the client would refuse anyway: say which mistake, never the key
        out.write(f"FAIL key: {API_KEY_ENV} {problem}.\n")
        return USAGE
    if key != key.strip():
        out.write("note key: surrounding whitespace (e.g. a trailing newline) is ignored\n")
    shape = "looks fine" if len(key.strip()) >= 20 else "is shorter than usual (20+ chars)"
    out.write(f"ok   key: set ({len(key.strip())} characters, {shape})\n")
    try:
        url = normalize_base_url(raw_url)
    except ConfigurationError as exc:
        out.write(f"FAIL base URL: {exc}\n")
        return USAGE
    if url != raw_url.strip().rstrip("/"):
        out.write(f"note base URL: {raw_url!r} normalised to {url!r}; set {BASE_URL_ENV}={url}\n")
    out.write(f"ok   base URL: {url}\n")
    try:
        client = _client(args)
    except ConfigurationError as exc:
        out.write(f"FAIL config: {exc}\n")
        return USAGE
    with client:
        started = time.perf_counter()
        try:
            models = client.list_models()
        except AuthenticationError as exc:
            out.write(
                f"FAIL auth: the relay rejected the key (401). Check {API_KEY_ENV}. "
                f"[{exc.request_id or 'no request id'}]\n"
            )
            return 1
        except PermissionDeniedError:
            out.write("FAIL auth: the key may not list models (403).\n")
            return 1
        except RelayTimeoutError:
            out.write(f"FAIL network: {url} did not answer in time.\n")
            return 1
        except RelayConnectionError:
            out.write(f"FAIL network: cannot reach {url} (DNS, proxy or firewall?).\n")
            return 1
        except RelayError as exc:  # a wrong path's 404 names the URL and says what to check
            out.write(f"FAIL relay: {exc}\n")
            return 1
        latency = (time.perf_counter() - started) * 1000
    out.write(f"ok   /models: {len(models)} models, round trip {latency:.0f} ms\n")
    return 0


def _limits(model: ModelInfo) -> tuple[int | None, int | None]:
    """(input, output) token limits: what the relay published, else the catalog's."""
    spec = get_model_spec(model.id)
    ctx = model.input_limit or (spec.context_window if spec.known else None)
    return ctx, model.output_limit or (spec.max_output_tokens if spec.known else None)


def cmd_models(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with _client(args) as client:
        models = client.list_models()
        pricing = client.pricing
    if args.json:
        rows = []
        for m in models:
            spec = get_model_spec(m.id)
            price = pricing.price(m.id)
            rows.append(
                {
                    "id": m.id,
                    "known": spec.known,
                    "context_window": _limits(m)[0],
                    "max_output_tokens": _limits(m)[1],
                    "limits_from": "relay" if m.input_limit else "catalog",
                    "capabilities": _caps(m.id),
                    "usd_per_million": None
                    if price is None
                    else {"input": price.input, "output": price.output},
                }
            )
        out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    out.write(f"{'model':30} {'context':>9} {'output':>7}  {'capabilities':34} usd/M in / out\n")
    for m in sorted(models, key=lambda m: m.id):
        ctx_limit, out_limit = _limits(m)
        ctx = f"{ctx_limit:,}" if ctx_limit else "?"
        mo = f"{out_limit:,}" if out_limit else "?"
        out.write(f"{m.id:30} {ctx:>9} {mo:>7}  {_caps(m.id):34} {_fmt_price(m.id, pricing)}\n")
    return 0


def _usage_line(model: str, usage: Usage | None, cost: float | None, latency: float) -> str:
    tokens = (
        f"{usage.prompt_tokens} in / {usage.completion_tokens} out"
        if usage
        else "usage not reported"
    )
    usd = f"${cost:.6f} (estimate)" if cost is not None else "cost unknown (no price)"
    return f"[{model}] {tokens}, {usd}, {latency:.0f} ms\n"


def cmd_chat(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    messages = [{"role": "user", "content": args.prompt}]
    params = {"max_tokens": args.max_tokens, "temperature": args.temperature}
    with _client(args) as client:
        if args.stream:
            with client.stream_chat(model=args.model, messages=messages, **params) as stream:
                for chunk in stream:
                    if args.json:
                        out.write(json.dumps(chunk.raw) + "\n")
                    elif chunk.choices and chunk.choices[0].delta.content:
                        out.write(chunk.choices[0].delta.content)
                        out.flush()
            result = stream.result
            if not args.json:
                out.write("\n")
            err.write(_usage_line(result.model, result.usage, result.cost_usd, result.latency_ms))
            return 0
        reply = client.chat(model=args.model, messages=messages, **params)
    out.write((json.dumps(reply.raw, indent=2) if args.json else reply.content) + "\n")
    err.write(_usage_line(reply.model, reply.usage, reply.cost_usd, reply.latency_ms))
    return 0


def cmd_cost(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    pricing = Pricing.default()
    price = pricing.price(args.model)
    if price is None:
        err.write(
            f"no price known for {args.model!r}; known: "
            f"{', '.join(sorted(m for m, _ in pricing.items()))}\n"
        )
        return 1
    usage = Usage(
        prompt_tokens=args.input_tokens,
        completion_tokens=args.output_tokens,
        total_tokens=args.input_tokens + args.output_tokens,
        cached_tokens=args.cached_tokens,
    )
    cost = price.cost(usage)
    out.write(
        f"{get_model_spec(args.model).id}: {args.input_tokens:,} in + "
        f"{args.output_tokens:,} out = ${cost:.6f} (estimate; ${price.input:g} / "
        f"${price.output:g} per million)\n"
    )
    return 0


def cmd_usage(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = RedisStore(args.redis)
    ledger = RedisUsageLedger(store, name=args.name)
    try:
        if not args.json:
            out.write(ledger.report(args.day) + "\n")
            return 0
        if args.day is None:
            by_model, total = ledger.by_model, ledger.total
        else:
            by_model, total = ledger.day(args.day), ledger.by_day.get(args.day, ModelTotals())
        payload: dict[str, object] = {"name": args.name, "redis": ledger.where, "day": args.day}
        payload["total"] = asdict(total)
        payload["by_model"] = {m: asdict(t) for m, t in by_model.items()}
        if args.day is None:
            payload["by_day"] = {d: asdict(t) for d, t in ledger.by_day.items()}
        out.write(json.dumps(payload, indent=2) + "\n")
        return 0
    except StoreUnavailableError as exc:
        err.write(f"error: {exc}\n")
        return 1
    finally:
        ledger.close(timeout=0)
        store.sync.close()


def _day(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError("must be a date, YYYY-MM-DD") from None


def _prompt(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(
            'the prompt is empty; say what to send, e.g. holysheep chat "Say hi"'
        )
    return text


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="holysheep",
        description="Talk to the HolySheep AI relay from the terminal.",
        epilog=f"{_ENV_HELP}\n{_EXIT_HELP}\n\nEvery command has its own --help.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--base-url", help=f"relay base URL (default: ${BASE_URL_ENV} or {DEFAULT_BASE_URL})"
    )
    common.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "check",
        parents=[common],
        help="diagnose key, base URL and connectivity",
        **_described(
            "Check the key (set? pasted with quotes, spaces or 'Bearer '?), the base URL, "
            "and that the relay's /models answers; prints the round trip.",
            env=True,
        ),
    )
    p.set_defaults(func=cmd_check)
    p = sub.add_parser(
        "models",
        parents=[common],
        help="list the relay's models with limits and prices",
        **_described(
            "List the models the relay serves, with context window, output limit, "
            "capabilities and estimated USD per million tokens (limits the relay publishes "
            "win over the shipped catalog).",
            env=True,
        ),
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser(
        "chat",
        parents=[common],
        help="send one prompt; usage and cost on stderr",
        **_described(
            "Send one prompt and print the answer on stdout (as it arrives with --stream); "
            "tokens, estimated cost and latency go to stderr.",
            env=True,
        ),
    )
    p.add_argument("prompt", type=_prompt, help="what to ask (not empty)")
    p.add_argument(
        "--model", "-m", default=DEFAULT_CHAT_MODEL, help=f"default {DEFAULT_CHAT_MODEL}"
    )
    p.add_argument("--stream", action="store_true", help="print tokens as they arrive")
    p.add_argument("--json", action="store_true", help="print the raw JSON reply (or chunks)")
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.set_defaults(func=cmd_chat)
    p = sub.add_parser(
        "cost",
        help="estimate the USD cost of a call from the pricing table",
        **_described(
            "Estimate the USD cost of a call from the shipped pricing table (offline: no "
            "key, no request). Prices are estimates.",
            env=False,
        ),
    )
    p.add_argument("--model", "-m", required=True)
    p.add_argument("--input-tokens", type=_non_negative, required=True)
    p.add_argument("--output-tokens", type=_non_negative, required=True)
    p.add_argument("--cached-tokens", type=_non_negative, default=0)
    p.set_defaults(func=cmd_cost)
    p = sub.add_parser(
        "usage",
        help="print the usage totals that workers share in Redis (holysheep usage --redis URL)",
        **_described(
            "Print the totals of a RedisUsageLedger (the usage that workers sharing one "
            "Redis recorded): requests, tokens and USD per model.",
            env=False,
        ),
    )
    p.add_argument("--redis", required=True, metavar="URL", help="redis://[:password@]host:port/db")
    p.add_argument("--name", default="default", help="the ledger's name (default: default)")
    p.add_argument("--day", type=_day, help="one UTC day's totals, YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_usage)
    from . import batch

    batch.add_parser(
        sub,
        common,
        _described(
            "Send a JSONL file of requests (OpenAI Batch API lines, or custom_id plus "
            "messages / prompt with --model) and write OpenAI batch output lines. Run it "
            "again with the same output to send only what has not succeeded yet. Exit 0 "
            "all succeeded, 1 some failed, 130 interrupted or out of budget.",
            env=True,
        ),
    )
    from .testing import _cli as emulate  # argparse only: the server loads when it runs

    emulate.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args, sys.stdout, sys.stderr)
    except ConfigurationError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return USAGE
    except ModelNotFoundError as exc:
        sys.stderr.write(f"error: {exc}\nRun `holysheep models` to see what the relay serves.\n")
        return 1
    except RelayError as exc:
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
