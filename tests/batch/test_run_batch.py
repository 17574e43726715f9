"""run_batch() against the emulator: answers, bad lines, resume, torn lines, budget, 429s."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion as OpenAIChatCompletion

from holysheep_relay import (
    AsyncRelayClient,
    BatchSummary,
    InvalidInputError,
    RateLimiter,
    SpendBudget,
    run_batch,
)
from holysheep_relay.testing import FAKE_API_KEY, Emulator

from .helpers import lines_of, prompt_counts, prompts_file, successes, write_lines

LINE_KEYS = {"id", "custom_id", "response", "error"}


def test_every_output_line_answers_its_own_request(relay_env: Emulator, tmp_path: Path) -> None:
    source = prompts_file(tmp_path / "in.jsonl", 60)
    target = tmp_path / "out.jsonl"

    summary = run_batch(source, target, concurrency=8, progress=False)

    assert isinstance(summary, BatchSummary)
    assert (summary.lines, summary.succeeded, summary.failed, summary.skipped) == (60, 60, {}, 0)
    assert summary.exit_code == 0
    assert summary.tokens > 0
    assert summary.usd is not None
    assert summary.usd > 0
    lines = lines_of(target)
    assert len(lines) == 60
    for line in lines:
        assert set(line) == LINE_KEYS
        assert line["id"].startswith("batch_req_")
        i = line["custom_id"].removeprefix("req-")
        body = line["response"]["body"]
        assert body["choices"][0]["message"]["content"] == f"Hello! You said: prompt {i}"
        assert line["response"]["status_code"] == 200
        assert line["response"]["request_id"]
    assert len(relay_env.requests) == 60


def test_hand_written_lines_take_the_model_argument(relay_env: Emulator, tmp_path: Path) -> None:
    source = write_lines(
        tmp_path / "in.jsonl",
        [
            {"custom_id": "p", "prompt": "from a prompt"},
            {"custom_id": "m", "messages": [{"role": "user", "content": "from messages"}]},
        ],
    )
    target = tmp_path / "out.jsonl"

    summary = run_batch(source, target, model="gpt-4.1", progress=False)

    assert summary.succeeded == 2
    answers = {
        line["custom_id"]: line["response"]["body"]["choices"][0]["message"]["content"]
        for line in lines_of(target)
    }
    assert answers == {"p": "Hello! You said: from a prompt", "m": "Hello! You said: from messages"}
    assert {r.json["model"] for r in relay_env.requests if r.json} == {"gpt-4.1"}


BAD_LINES = [
    ("not json at all", None, "line 1 is not JSON"),
    ('["a", "list"]', None, "line 2 is not a JSON object"),
    ({"prompt": "no id"}, None, "line 3 has no custom_id"),
    (
        {"custom_id": "url", "method": "POST", "url": "/v1/files", "body": {}},
        "url",
        "line 4: unsupported url '/v1/files'",
    ),
    (
        {"custom_id": "get", "method": "GET", "url": "/v1/chat/completions", "body": {}},
        "get",
        "line 5: unsupported method 'GET'",
    ),
    ({"custom_id": "nomodel", "prompt": "who am I?"}, "nomodel", "line 6: no model"),
    (
        {"custom_id": "body", "method": "POST", "url": "/v1/chat/completions", "body": 3},
        "body",
        "line 7: body must be a JSON object",
    ),
    (
        {
            "custom_id": "stream",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-4.1", "stream": True, "messages": [{"role": "user"}]},
        },
        "stream",
        "line 8: streamed requests are not supported",
    ),
    ({"custom_id": "nothing"}, "nothing", "line 9: no request"),
]


def test_every_kind_of_bad_line_gets_an_error_line_and_the_batch_goes_on(
    relay_env: Emulator, tmp_path: Path
) -> None:
    rows = [row for row, _, _ in BAD_LINES]
    rows.append(
        {
            "custom_id": "good",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-4.1", "messages": [{"role": "user", "content": "still sent"}]},
        }
    )
    source = write_lines(tmp_path / "in.jsonl", rows)
    target = tmp_path / "out.jsonl"

    summary = run_batch(source, target, progress=False)

    assert summary.lines == len(rows)
    assert summary.succeeded == 1
    assert summary.failed == {"InvalidInputError": len(BAD_LINES)}
    assert summary.exit_code == 1
    lines = lines_of(target)
    assert len(lines) == len(rows)  # one output line per input line
    errors = [line for line in lines if line["error"] is not None]
    for (_, custom_id, message), line in zip(BAD_LINES, errors, strict=True):
        assert line["response"] is None
        assert line["custom_id"] == custom_id
        assert line["error"]["code"] == "InvalidInputError"
        assert line["error"]["message"].startswith(message)
    assert prompt_counts(relay_env) == {"still sent": 1}


def test_bodies_the_client_refuses_still_get_one_error_line_each(
    relay_env: Emulator, tmp_path: Path
) -> None:
    chat = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "x"}]}
    source = write_lines(
        tmp_path / "in.jsonl",
        [
            {"custom_id": "str", "messages": ["just a string"]},
            {
                "custom_id": "headers",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {**chat, "extra_headers": 5},
            },
            {
                "custom_id": "input",
                "method": "POST",
                "url": "/v1/embeddings",
                "body": {"model": "text-embedding-3-small", "input": 5},
            },
            {"custom_id": "ok", "method": "POST", "url": "/v1/chat/completions", "body": chat},
        ],
    )
    target = tmp_path / "out.jsonl"

    summary = run_batch(source, target, model="gpt-4.1", concurrency=1, progress=False)

    lines = {line["custom_id"]: line for line in lines_of(target)}
    assert sorted(lines) == ["headers", "input", "ok", "str"]
    assert summary.succeeded == 1
    assert summary.failed_total == 3
    assert lines["str"]["error"] == {
        "code": "InvalidInputError",
        "message": "messages[0] must be a dict, got str",
    }
    assert summary.failed == {"InvalidInputError": 3}
    for custom_id, line in (("headers", 2), ("input", 3)):
        assert lines[custom_id]["response"] is None
        assert lines[custom_id]["error"]["message"].startswith(f"line {line}: the body cannot")
    assert prompt_counts(relay_env) == {"x": 1}


def test_duplicate_custom_ids_are_refused_before_anything_is_sent(
    relay_env: Emulator, tmp_path: Path
) -> None:
    source = write_lines(
        tmp_path / "in.jsonl",
        [
            {"custom_id": "a", "prompt": "1"},
            {"custom_id": "b", "prompt": "2"},
            {"custom_id": "a", "prompt": "3"},
            {"custom_id": "a", "prompt": "4"},
        ],
    )
    target = tmp_path / "out.jsonl"

    with pytest.raises(InvalidInputError, match=r"'a' on lines 1, 3, 4; nothing was sent"):
        run_batch(source, target, model="gpt-4.1", progress=False)

    assert relay_env.requests == []
    assert not target.exists()


def test_a_rerun_sends_only_what_has_not_succeeded(relay_env: Emulator, tmp_path: Path) -> None:
    source = prompts_file(tmp_path / "in.jsonl", 10)
    target = tmp_path / "out.jsonl"
    relay_env.add_fault("server_error", times=3)

    async_client = AsyncRelayClient(base_url=relay_env.base_url, max_retries=0)
    first = run_batch(source, target, concurrency=1, client=async_client, progress=False)

    assert (first.succeeded, first.failed) == (7, {"ServerError": 3})
    assert first.exit_code == 1
    failed_ids = {line["custom_id"] for line in lines_of(target) if line["error"]}
    assert len(failed_ids) == 3

    relay_env.reset()
    second = run_batch(source, target, concurrency=4, progress=False)

    assert (second.succeeded, second.failed, second.skipped) == (3, {}, 7)
    assert {f"req-{p.split()[-1]}" for p in prompt_counts(relay_env)} == failed_ids
    done = successes(target)
    assert sorted(done) == sorted(f"req-{i}" for i in range(10))
    assert all(len(found) == 1 for found in done.values())
    assert len(lines_of(target)) == 10  # the old failure lines are gone


def test_a_torn_last_line_is_set_aside_on_resume(
    relay_env: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = prompts_file(tmp_path / "in.jsonl", 4)
    target = tmp_path / "out.jsonl"
    run_batch(source, target, progress=False)
    kept = target.read_text(encoding="utf-8").splitlines(keepends=True)
    torn = kept[3][: len(kept[3]) // 2]  # a killed run's half-written line
    target.write_text("".join(kept[:3]) + torn, encoding="utf-8")
    torn_id = json.loads(kept[3])["custom_id"]
    relay_env.reset()

    with caplog.at_level(logging.WARNING, logger="holysheep_relay.batch"):
        summary = run_batch(source, target, progress=False)

    assert (summary.succeeded, summary.skipped) == (1, 3)
    assert prompt_counts(relay_env) == {f"prompt {torn_id.removeprefix('req-')}": 1}
    assert sorted(successes(target)) == [f"req-{i}" for i in range(4)]
    assert len(lines_of(target)) == 4
    assert (tmp_path / "out.jsonl.torn").read_text(encoding="utf-8") == torn + "\n"
    assert "1 torn line(s)" in caplog.text


def test_a_budget_that_runs_out_stops_the_batch_cleanly(
    relay_env: Emulator, tmp_path: Path
) -> None:
    source = prompts_file(tmp_path / "in.jsonl", 20)
    target = tmp_path / "out.jsonl"
    probe = SpendBudget(1.0, period=None)
    probe_client = AsyncRelayClient(base_url=relay_env.base_url, budget=probe)
    run_batch(source, tmp_path / "probe.jsonl", client=probe_client, progress=False)
    per_call = probe.status().spent_usd / 20
    relay_env.reset()

    budget = SpendBudget(per_call * 5.5, period=None)
    first = run_batch(source, target, concurrency=1, budget=budget, progress=False)

    assert first.stopped is not None
    assert "budget ran out" in first.stopped
    assert first.exit_code == 130
    assert 0 < first.succeeded < 20
    assert first.failed == {}  # the rest are not written as failures
    assert all(line["error"] is None for line in lines_of(target))
    assert "stopped early" in first.report()

    second = run_batch(source, target, budget=SpendBudget(1.0, period=None), progress=False)

    assert (second.succeeded, second.skipped, second.stopped) == (
        20 - first.succeeded,
        first.succeeded,
        None,
    )
    assert sorted(successes(target)) == sorted(f"req-{i}" for i in range(20))


def test_a_429_storm_is_ridden_out_within_the_rate_limit(
    relay_env: Emulator, tmp_path: Path
) -> None:
    source = prompts_file(tmp_path / "in.jsonl", 12)
    target = tmp_path / "out.jsonl"
    relay_env.add_fault("rate_limit", times=6, retry_after=0)
    limiter = RateLimiter(requests_per_minute=30)
    client = AsyncRelayClient(base_url=relay_env.base_url, rate_limiter=limiter, max_retries=8)

    summary = run_batch(source, target, concurrency=4, client=client, progress=False)

    assert (summary.succeeded, summary.failed) == (12, {})
    assert len(relay_env.requests) == 18  # 12 answers, 6 refusals retried
    assert len(relay_env.requests) <= 30  # never more than the limiter allows in a minute
    assert all(len(found) == 1 for found in successes(target).values())


def test_a_429_storm_waits_on_the_limiter_not_past_it(relay_env: Emulator, tmp_path: Path) -> None:
    """With a fake clock: 12 lines + 6 refusals at 10 requests a minute must take the
    limiter more than one window of (fake) waiting."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    source = prompts_file(tmp_path / "in.jsonl", 12)
    relay_env.add_fault("rate_limit", times=6, retry_after=0)
    limiter = RateLimiter(requests_per_minute=10, clock=lambda: now[0])
    client = AsyncRelayClient(
        base_url=relay_env.base_url, rate_limiter=limiter, max_retries=8, sleep=sleep
    )

    target = tmp_path / "out.jsonl"
    summary = run_batch(source, target, concurrency=4, client=client, progress=False)

    assert (summary.succeeded, summary.failed) == (12, {})
    assert len(relay_env.requests) == 18
    assert now[0] >= 60.0  # 18 sends at 10 a minute: the limiter made them wait


def test_the_embeddings_url_round_trips_as_openai_types(
    relay_env: Emulator, tmp_path: Path
) -> None:
    source = write_lines(
        tmp_path / "in.jsonl",
        [
            {
                "custom_id": "emb",
                "method": "POST",
                "url": "/v1/embeddings",
                "body": {"model": "text-embedding-3-small", "input": ["one", "two"]},
            },
            {
                "custom_id": "chat",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]},
            },
        ],
    )
    target = tmp_path / "out.jsonl"

    summary = run_batch(source, target, progress=False)

    assert summary.succeeded == 2
    by_id = {line["custom_id"]: line for line in lines_of(target)}
    assert set(by_id["emb"]) == LINE_KEYS
    assert set(by_id["emb"]["response"]) == {"status_code", "request_id", "body"}
    embeddings = CreateEmbeddingResponse.model_validate(by_id["emb"]["response"]["body"])
    assert [d.index for d in embeddings.data] == [0, 1]
    assert len(embeddings.data[0].embedding) > 0
    assert embeddings.usage.prompt_tokens > 0
    completion = OpenAIChatCompletion.model_validate(by_id["chat"]["response"]["body"])
    assert completion.choices[0].message.content == "Hello! You said: hi"
    assert [r.path for r in relay_env.requests].count("/embeddings") == 1


def test_the_key_never_appears_in_the_output(relay_env: Emulator, tmp_path: Path) -> None:
    source = prompts_file(tmp_path / "in.jsonl", 4)
    target = tmp_path / "out.jsonl"
    relay_env.add_fault("auth_error")
    relay_env.add_fault("server_error", times=3)

    summary = run_batch(source, target, concurrency=1, progress=False)

    assert summary.failed_total >= 1
    assert FAKE_API_KEY not in target.read_text(encoding="utf-8")
    assert FAKE_API_KEY not in summary.report()
