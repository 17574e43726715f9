"""N calls of one scenario for one client and nothing else: for instruction counts.

    python bench/fake_relay.py --port 0 &            # prints {"port": P, ...}
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p \\
        python bench/loop.py relay request 600 --port P

Run it twice with different N: (total instructions at N2 - at N1) / (N2 - N1) is the cost of
one call (per request; divide by 2,000 for streams), free of start-up, imports and warm-up.
No timing, no ``gc.collect()``: only the calls (after ``--warmup`` unmeasured ones).
``--gc-freeze`` moves everything alive after the warm-up out of the collector's reach
(``gc.freeze()``), so that a full collection landing in one run and not in the other does
not count: what is left is the calls' own code path.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys

from drivers import SPECS, make_driver
from scenarios import STREAM_CHUNKS


def freeze(enabled: bool) -> None:
    if enabled:
        gc.collect()
        gc.freeze()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("client", choices=list(SPECS))
    parser.add_argument("scenario", choices=("request", "tool", "stream", "astream", "arequest"))
    parser.add_argument("n", type=int, help="calls (streams for stream/astream)")
    parser.add_argument("--port", type=int, required=True, help="a running fake relay")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after warm-up")
    args = parser.parse_args(argv)
    streams = args.scenario in ("stream", "astream")
    driver = make_driver(args.client, args.port, STREAM_CHUNKS if streams else None)
    fn = getattr(driver, args.scenario)
    if args.scenario.startswith("a"):
        loop = asyncio.new_event_loop()

        async def calls(n: int) -> None:
            for _ in range(n):
                await fn()

        loop.run_until_complete(calls(args.warmup))
        freeze(args.gc_freeze)
        loop.run_until_complete(calls(args.n))
    else:
        for _ in range(args.warmup):
            fn()
        freeze(args.gc_freeze)
        for _ in range(args.n):
            fn()
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: it would only add instructions


if __name__ == "__main__":
    main()
