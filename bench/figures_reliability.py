"""Figure tables of docs/reliability.md from ``bench/results/reliability.json`` (issue 16:
concurrency and kill points), rendered by bench/figures.py as ``reliability-<name>``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _ms(x: float) -> str:
    return f"{x:,.0f}"


def concurrency(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    """Queries during an ingest, and N clients at once, against ``songscape serve``."""
    r = results("reliability")
    d = r["during_ingest"]
    rows = [[f"during an ingest of {d['files']} files ({d['rounds']} rounds of 4 clients)",
             f"{d['requests']:,}", str(d["errors"]), str(d["retries"]), _ms(d["p50_ms"]),
             _ms(d["p95_ms"]), _ms(d["max_ms"]), "—"]]  # fmt: skip  (rounds, not a rate)
    for row in r["load"]:
        rows.append([f"{row['clients']} clients at once, {row['requests_per_client']} each",
                     f"{row['requests']:,}", str(row["errors"]), str(row["retries"]),
                     _ms(row["p50_ms"]), _ms(row["p95_ms"]), _ms(row["max_ms"]),
                     f"{row['requests_per_s']:.0f}"])  # fmt: skip
    head = ["load", "requests", "errors", "retried", "p50 ms", "p95 ms", "max ms", "req/s"]
    note = (f"The ingest exited {d['ingest_exit']}; the server's log held "
            f"{r['server_log_tracebacks']} tracebacks and {r['server_log_locked']} "
            "\"database is locked\".")
    return table(head, rows) + "\n\n" + note + "\n\n" + source("reliability")


def kills(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    """SIGKILLs per command: at random moments and inside the write; the test's outcome."""
    r = results("reliability")
    rows = [[f"`{k['command']}`", f"{k['run_s']:.2f}",
             f"{k['timed_killed']} of {k['timed']}",
             f"{k['in_write_killed']} of {k['in_write']}"]
            for k in r.get("kill_points", [])]  # fmt: skip
    head = ["command", "one run (s)", "killed at random moments", "killed inside the write"]
    outcome = ("every check after a kill passed, and every final run completed"
               if r.get("kill_points_passed") else
               f"FAILED: {r.get('kill_points_summary', '')}")
    return (table(head, rows) + f"\n\nOutcome: {outcome} (pytest: "
            f"{r.get('kill_points_summary', '')}).\n\n" + source("reliability"))


RENDERERS = {"concurrency": concurrency, "kills": kills}
