"""``songscape check [--repair]``: is the library consistent; fix what can be fixed.

Exit codes: 0 when no error remains (warnings — the catalog behind the disk — are listed
but allowed), 1 when one does (or the library cannot be opened).
"""

from __future__ import annotations

import argparse

from songscape.cli import render
from songscape.cli.errors import EXIT_FAILED, EXIT_OK
from songscape.cli.options import AddCommand, open_library


def cmd_check(args: argparse.Namespace) -> int:
    """Run every consistency check (``--repair``: and fix what can be fixed)."""
    with open_library(args) as lib:
        report = lib.check(repair=args.repair)
    result = report.to_json()
    if args.json:
        render.print_json(result)
        return EXIT_OK if report.ok else EXIT_FAILED
    console = render.console()
    for finding in report.findings:
        mark = "repaired" if finding.repaired else finding.severity
        console.print(f"{mark}: [{finding.check}] {finding.message}", markup=False)
        if finding.repair and not finding.repaired:
            console.print(f"    --repair: {finding.repair}", markup=False)
    for what, n in report.pending.items():
        console.print(f"pending: {what}: {n}", markup=False)
    verdict = "consistent" if report.ok else "NOT consistent"
    console.print(
        f"library {result['library']}: {verdict} — {result['errors']} error(s), "
        f"{result['warnings']} warning(s), {result['repaired']} repaired; "
        f"{len(report.checks)} checks in {report.elapsed_s:.1f} s",
        markup=False,
    )
    return EXIT_OK if report.ok else EXIT_FAILED


def add_parsers(add: AddCommand) -> None:
    """check."""
    p = add(
        "check", cmd_check,
        "check the library: SQLite integrity, references, arrays and vectors, stage "
        "records, files gone from disk, vector indexes",
    )  # fmt: skip
    p.add_argument(
        "--repair", action="store_true",
        help="fix what can be fixed (damaged data is recomputed by the next ingest; tracks "
        "whose file is gone are marked missing) and say what was done",
    )  # fmt: skip
