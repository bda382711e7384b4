"""Concurrent HTTP clients against a live server on loopback (issue 16): many clients at
once, each with its own connection, each sending a few requests in turn; every answer is
timed and checked. Used by ``tests/server/test_concurrency.py`` and ``bench/concurrency.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import numpy as np

#: Words in an answer that betray a server-side failure even under a 2xx status.
FAILURE_WORDS = ("database is locked", "Traceback", "Internal Server Error")


@dataclass
class LoadResult:
    """What a load run saw.

    Attributes
    ----------
    requests : int
        Requests sent.
    statuses : Counter
        Answers by HTTP status (``0``: no answer: connection error or timeout).
    errors : list of str
        One line per failed request (status >= 500, no answer, or a failure word in it).
    latencies_s : list of float
        Seconds from sending each request to reading its whole answer.
    seconds : float
        Wall time of the whole run.
    retries : int
        Requests sent again because their kept-alive connection was closed or reset just
        as they went out, before any answer (never a first request, never twice).
    """

    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    seconds: float = 0.0
    retries: int = 0

    def percentile_ms(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of the latencies, in milliseconds."""
        return float(np.percentile(self.latencies_s, q) * 1000) if self.latencies_s else 0.0

    def summary(self) -> dict:
        """Counts and latency percentiles (ms) as plain numbers."""
        return {
            "requests": self.requests,
            "errors": len(self.errors),
            "retries": self.retries,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "p50_ms": round(self.percentile_ms(50), 1),
            "p95_ms": round(self.percentile_ms(95), 1),
            "max_ms": round(self.percentile_ms(100), 1),
            "seconds": round(self.seconds, 2),
            "requests_per_s": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
        }


def check_answer(path: str, status: int, body: str) -> str | None:
    """Why an answer counts as an error, or None when it does not."""
    if status >= 500:
        return f"{path}: HTTP {status}: {body[:200]}"
    for word in FAILURE_WORDS:
        if word in body:
            return f"{path}: HTTP {status} with {word!r}: {body[:200]}"
    return None


async def _client(
    base_url: str, paths: Sequence[str], offset: int, n_requests: int, timeout_s: float,
    result: LoadResult, start: asyncio.Event,
) -> None:  # fmt: skip
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s, limits=limits) as client:
        await start.wait()
        for i in range(n_requests):
            path = paths[(offset + i) % len(paths)]
            t0 = time.perf_counter()
            for attempt in range(2):
                try:
                    response = await client.get(path)
                    body = response.text
                    status = response.status_code
                except (httpx.RemoteProtocolError, httpx.ReadError) as err:
                    status, body = 0, f"{type(err).__name__}: {err}"
                    if i > 0 and attempt == 0:
                        # The kept-alive connection was closed (FIN or reset) as this
                        # request went out on it, before any answer: a GET is idempotent
                        # and is sent again on a new connection (RFC 9112, 9.3.1), as
                        # browsers do; counted, and only once.
                        result.retries += 1
                        continue
                except httpx.HTTPError as err:
                    status, body = 0, f"{type(err).__name__}: {err}"
                break
            result.latencies_s.append(time.perf_counter() - t0)
            result.requests += 1
            result.statuses[status] += 1
            problem = check_answer(path, status, body) if status else f"{path}: {body}"
            if problem:
                result.errors.append(f"request {i + 1} of client {offset}: {problem}")


async def run_load_async(
    base_url: str, paths: Sequence[str], clients: int, requests_per_client: int,
    timeout_s: float = 120.0,
) -> LoadResult:  # fmt: skip
    """``clients`` clients at once, each sending ``requests_per_client`` GETs (the paths in
    turn, each client starting at another one) over its own keep-alive connection, all
    released at the same moment."""
    result = LoadResult()
    start = asyncio.Event()
    tasks = [
        asyncio.create_task(
            _client(base_url, paths, i, requests_per_client, timeout_s, result, start)
        )
        for i in range(clients)
    ]
    await asyncio.sleep(0)  # every client is waiting on the start
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - t0
    return result


def run_load(
    base_url: str, paths: Sequence[str], clients: int = 200, requests_per_client: int = 5,
    timeout_s: float = 120.0,
) -> LoadResult:  # fmt: skip
    """:func:`run_load_async` from synchronous code."""
    return asyncio.run(run_load_async(base_url, paths, clients, requests_per_client, timeout_s))
