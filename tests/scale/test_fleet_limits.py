"""Several OS processes share one RedisRateLimiter: the relay (the emulator, which timestamps
arrivals) never sees more than the limit in any 60-second window, and every call succeeds.

Real time, real 60-second windows: this test takes about a minute (it runs in CI).
"""

from __future__ import annotations

import pytest

from holysheep_relay.testing import Emulator
from tests.scale.fleet import arrivals, run_fleet
from tests.windows import max_in_window

pytestmark = pytest.mark.slow

RPM, RPM_WORKERS, RPM_CALLS = 10, 3, 5  # 15 calls: two windows
TPM, TPM_WORKERS, TPM_CALLS = 100, 3, 2  # ~30 tokens estimated per call, ~17 used


def test_no_window_holds_more_than_the_limit_across_processes(
    emulator: Emulator, redis_url: str
) -> None:
    workers = [
        {"tag": f"rpm-{n}", "count": RPM_CALLS, "rpm": RPM, "name": "rpm", "model": "gpt-4.1"}
        for n in range(RPM_WORKERS)
    ] + [
        {
            "tag": f"tpm-{n}",
            "count": TPM_CALLS,
            "tpm": TPM,
            "name": "tpm",
            "model": "gpt-4.1",
            "max_tokens": 20,
        }
        for n in range(TPM_WORKERS)
    ]
    calls = run_fleet(emulator.base_url, redis_url, workers, timeout=400)

    assert len(calls) == RPM_WORKERS * RPM_CALLS + TPM_WORKERS * TPM_CALLS
    assert {c.outcome for c in calls} == {"ok"}  # every call eventually succeeded
    by_prompt = {c.prompt: c for c in calls}

    # requests: each prompt arrived exactly once; never more than RPM in a 60 s window
    rpm_arrivals = arrivals(emulator, "rpm-")
    assert sorted(rpm_arrivals) == sorted(c.prompt for c in calls if c.tag.startswith("rpm-"))
    assert all(len(times) == 1 for times in rpm_arrivals.values())
    times = sorted(t[0] for t in rpm_arrivals.values())
    most = max_in_window([(t, 1.0) for t in times])
    assert most <= RPM
    # not vacuous: the 11th call really waited for the first window to pass
    assert most == RPM
    assert times[RPM] - times[0] >= 60.0

    # tokens: the real usage of the calls arriving in any 60 s window stays within TPM
    tpm_arrivals = arrivals(emulator, "tpm-")
    assert all(len(t) == 1 for t in tpm_arrivals.values())
    token_events = [(t[0], float(by_prompt[p].tokens)) for p, t in tpm_arrivals.items()]
    most_tokens = max_in_window(token_events)
    assert most_tokens <= TPM
    spread = max(t for t, _ in token_events) - min(t for t, _ in token_events)
    assert spread >= 60.0  # the token limit really held calls back
    print(
        f"\nfleet limits: {len(times)} calls from {RPM_WORKERS} processes at {RPM} rpm: max "
        f"{most:.0f} in any 60 s window, last arrival {times[-1] - times[0]:.1f} s after the "
        f"first; {len(token_events)} calls from {TPM_WORKERS} processes at {TPM} tpm: max "
        f"{most_tokens:.0f} tokens in any 60 s window over {spread:.1f} s"
    )
