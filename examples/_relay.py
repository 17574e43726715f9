"""Where the examples send their requests: the live relay, or recorded answers.

- ``HOLYSHEEP_API_KEY`` set: the live relay (``HOLYSHEEP_BASE_URL`` or the default).
- no key: replay the cassette ``cassettes/examples/<name>.yaml`` offline (vcrpy; no socket is
  opened, and a request that was not recorded fails loudly).
- ``HOLYSHEEP_RECORD=emulator``: (maintainers) re-record the cassette against the local
  emulator from ``tests/emulator``; ``HOLYSHEEP_RECORD=live`` re-records against the relay.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes" / "examples"
REPLAY_KEY = "hs_replay_placeholder_key_000000"
REPLAY_URL = "http://127.0.0.1:9/v1"  # never contacted: vcrpy answers every request


@contextmanager
def relay(name: str) -> Iterator[str]:
    """Set up the relay for example ``name``; yields a one-line description of the mode."""
    sys.path.insert(0, str(ROOT))  # tests/ holds the cassette scrubbing config and emulator
    from tests import cassette_config

    record = os.environ.get("HOLYSHEEP_RECORD", "")
    key = os.environ.get("HOLYSHEEP_API_KEY", "")
    if key and not record:
        print(
            f"Live mode: calling the HolySheep relay ({os.environ.get('HOLYSHEEP_BASE_URL') or 'https://api.holysheep.ai/v1'})."
        )
        yield "live"
        return

    import vcr

    cassette = CASSETTES / f"{name}.yaml"
    if record == "emulator":
        from holysheep_relay.testing import Emulator

        with Emulator() as emulator:
            os.environ["HOLYSHEEP_API_KEY"] = REPLAY_KEY
            os.environ["HOLYSHEEP_BASE_URL"] = emulator.base_url
            recorder = vcr.VCR(**cassette_config.vcr_config("all"))
            cassette_config.register_matchers(recorder)
            print(f"Recording {cassette.relative_to(ROOT)} against the local emulator.")
            with recorder.use_cassette(str(cassette)):
                yield "record"
        return
    if record == "live":
        recorder = vcr.VCR(**cassette_config.vcr_config("all"))
        cassette_config.register_matchers(recorder)
        print(f"Recording {cassette.relative_to(ROOT)} against the live relay.")
        with recorder.use_cassette(str(cassette)):
            yield "record"
        return

    if not cassette.exists():
        raise SystemExit(f"No HOLYSHEEP_API_KEY and no recording at {cassette}; set a key.")
    os.environ["HOLYSHEEP_API_KEY"] = REPLAY_KEY
    os.environ["HOLYSHEEP_BASE_URL"] = REPLAY_URL
    player = vcr.VCR(**cassette_config.vcr_config("none"))
    cassette_config.register_matchers(player)
    print(
        f"Offline mode: no HOLYSHEEP_API_KEY, replaying recorded answers from "
        f"{cassette.relative_to(ROOT)} (set HOLYSHEEP_API_KEY to call the live relay)."
    )
    with player.use_cassette(str(cassette), allow_playback_repeats=False):
        yield "replay"
