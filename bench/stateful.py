"""The stateful ingest test's long profile (issue 16): random file operations and SIGKILLed
ingests for a bounded time, new sequences every run.

Runs ``tests/ingest/stateful.py``'s ``IngestMachine`` (the short, derandomised profile is
``tests/ingest/test_stateful_ingest.py`` in ``make test``) in batches of ``--batch``
sequences of up to ``--steps`` steps until ``--minutes`` have passed (``--shrink``: a
failure is shrunk to its smallest sequence, which can take many minutes).

Result (``bench/results/stateful.json``): ``results.reach`` (sequences, steps, completed
ingests, killed ingests, catalog checks, each kind of file operation), ``results.failures``
(the first failure's text, if any; the run stops there) and ``results.minutes``.

Usage: python bench/stateful.py [--minutes 20] [--steps 40] [--batch 10] [--shrink] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, Phase, settings  # noqa: E402

from record import machine, write_results  # noqa: E402
from tests.ingest.stateful import REACH, IngestMachine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--shrink", action="store_true",
                        help="shrink a failure to its smallest sequence (can take many minutes)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from songscape.ingest.warmup import warm_up

    warm_up()
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if args.shrink else [])
    profile = settings(
        max_examples=args.batch, stateful_step_count=args.steps, deadline=None,
        database=None, suppress_health_check=list(HealthCheck), phases=phases,
    )  # fmt: skip
    IngestMachine.TestCase.settings = profile
    started = time.perf_counter()
    failures = []
    batches = 0
    while time.perf_counter() - started < args.minutes * 60:
        try:
            IngestMachine.TestCase().runTest()
        except Exception as err:  # noqa: BLE001 - a found bug: record it and stop
            for sub in getattr(err, "exceptions", [err]):
                notes = "\n".join(getattr(sub, "__notes__", []))
                failures.append(f"{type(sub).__name__}: {sub}\n{notes}"[:8000])
            break
        batches += 1
        print(json.dumps({"batches": batches, **REACH}), flush=True)
    minutes = (time.perf_counter() - started) / 60
    results = {"reach": dict(sorted(REACH.items())), "failures": failures,
               "minutes": round(minutes, 1), "batches": batches}  # fmt: skip
    conditions = machine(steps=args.steps, batch=args.batch, minutes_asked=args.minutes)
    path = write_results(__file__, results, conditions, args.out)
    print(json.dumps({"written": str(path), **results}))


if __name__ == "__main__":
    main()
