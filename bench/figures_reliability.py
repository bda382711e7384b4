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


def soak(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    """``bench/soak.py``: totals, then one row per time window (latency, memory, fds)."""
    r = results("soak")
    m = r["memory"]
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["errors_by_kind"].items())) or "none"
    head = ["ran", "requests", "errors", "retried", "p50 ms", "p99 ms", "RSS MB (start → end)",
            "RSS growth", "open fds (start → end)", "ingests (files)"]  # fmt: skip
    ing = r["ingests"]
    rows = [[f"{r['ran_s'] / 60:.1f} min", f"{r['requests']:,}", str(r["errors"]),
             str(r["retries"]), _ms(r["p50_ms"]), _ms(r["p99_ms"]),
             f"{m['rss_mb_start']:,.0f} → {m['rss_mb_end']:,.0f}", f"{m['rss_growth_pct']:+.1f} %",
             f"{m['fds_start']} → {m['fds_end']}",
             f"{ing['runs']} ({ing['files_added']} files), "
             + ("all exited 0" if set(ing["exit_codes"]) <= {"0"} else
                f"exit codes {ing['exit_codes']}")]]  # fmt: skip
    whead = ["window (s)", "requests", "errors", "p50 ms", "p99 ms", "RSS MB", "fds"]
    wrows = [[f"{w['from_s']}–{w['to_s']}", f"{w['requests']:,}", str(w["errors"]),
              _ms(w["p50_ms"]), _ms(w["p99_ms"]), f"{w['rss_mb']:,.0f}", str(w["fds"])]
             for w in r["windows"]]  # fmt: skip
    note = (f"Errors by kind: {kinds}. RSS and fds: start = the first sample after the "
            f"first window ({m['baseline_t_s']:.0f} s; {m['rss_mb_at_launch']:,.0f} MB when "
            f"the load began), end = the last sample under load ({m['end_t_s']:.0f} s); peak "
            f"{m['rss_mb_peak']:,.0f} MB and {m['fds_peak']} fds; after the clients stopped "
            f"{m['after_load']['rss_mb']:,.0f} MB and {m['after_load']['fds']} fds. The "
            f"server's log held {r['server_log_tracebacks']} tracebacks and "
            f"{r['server_log_locked']} \"database is locked\".")
    return (table(head, rows) + "\n\n" + table(whead, wrows) + "\n\n" + note + "\n\n"
            + source("soak"))


def keepalive(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    """``bench/keepalive.py``: the gap sweep, then the load against two keep-alive timeouts."""
    r = results("keepalive")
    srows = [[f"{row['gap_s']:.2f}", str(row["same"]), str(row["new"]), str(row["lost"])]
             for row in r["sweep"]]  # fmt: skip
    shead = ["idle gap (s), server keep-alive 5 s", "answered on the same connection",
             "on a new connection", "lost"]  # fmt: skip
    lrows = [[f"{row['keep_alive_s']:g} s",
              f"blocked {row['client_stall_s']:g} s once" if row["client_stall_s"] else "—",
              f"{row['requests']:,}", str(row["lost"]), str(row["lost_on_reused_connection"]),
              str(row["reconnected"] + row.get("closed_after_answer", 0)),
              _ms(row["p50_ms"]), _ms(row["p95_ms"]),
              f"{row['client_loop_lag_max_s']:.2f}"]
             for row in r["load"]]  # fmt: skip
    lhead = ["server keep-alive", "client's event loop", "requests", "lost (no retry)",
             "lost on a reused connection", "connections the server closed", "p50 ms",
             "p95 ms", "client loop lag max (s)"]  # fmt: skip
    return table(shead, srows) + "\n\n" + table(lhead, lrows) + "\n\n" + source("keepalive")


RENDERERS = {"concurrency": concurrency, "kills": kills, "soak": soak, "keepalive": keepalive}
