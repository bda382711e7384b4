"""Real engines on loopback for the scale tests: Debian's redis-server and a local Ray
cluster (``ray start --head`` on free ports), each stopped afterwards. No mocks."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen | None, what: str, timeout: float) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.time() > deadline or (proc is not None and proc.poll() is not None):
                pytest.fail(f"{what} did not start on port {port}")
            time.sleep(0.05)


@contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on a free loopback port (no persistence); yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(port, proc, "redis-server", 10)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def ray_cluster(tmp: Path, cpus: int = 2) -> Iterator[str]:
    """``ray start --head`` on free loopback ports with its own temp dir; yields the GCS
    address, and ``ray stop`` (this cluster's processes only) afterwards."""
    ray_exe = Path(sys.executable).with_name("ray")
    if not ray_exe.exists():
        pytest.skip("ray is not installed (the scale extra)")
    port = free_port()
    temp = Path("/tmp") / f"ss-ray-{os.getpid()}-{port}"  # short: Ray's socket paths are limited
    marker = f"{os.getpid()}-{port}"
    # RAY_AUTH_MODE explicit: `ray start` would otherwise turn token auth on whenever a
    # token file (~/.ray/auth_token, written by any local ray.init) exists, and refuse the
    # tests' clients, which join by explicit address (Ray 2.59+)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", RAY_MARKER: marker,
           "RAY_AUTH_MODE": "disabled",
           # a loaded 2-core machine can take over a minute to start the node's agents
           "RAY_agent_register_timeout_ms": "180000"}  # fmt: skip
    cmd = [str(ray_exe), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
           f"--num-cpus={cpus}", "--include-dashboard=false", f"--temp-dir={temp}",
           f"--ray-client-server-port={free_port()}", "--disable-usage-stats",
           f"--object-store-memory={200 * 1024 * 1024}"]  # fmt: skip
    try:
        for _attempt in range(2):  # a busy machine can time a node's start-up out: once more
            started = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
            if started.returncode == 0:
                break
            _stop_ray(marker)
        else:
            pytest.fail(f"ray start failed: {started.stderr[-2000:]}")
        yield f"127.0.0.1:{port}"
    finally:
        _stop_ray(marker)
        shutil.rmtree(temp, ignore_errors=True)


#: Environment variable marking the processes of a test's Ray cluster (inherited by all).
RAY_MARKER = "SONGSCAPE_TEST_RAY_CLUSTER"


def _stop_ray(marker: str) -> None:
    """Stop the processes that carry ``RAY_MARKER=marker`` in their environment (the
    cluster this test started, and nothing else), by pid."""
    needle = f"{RAY_MARKER}={marker}".encode()
    pids = []
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit() or int(proc_dir.name) == os.getpid():
            continue
        try:
            environ = (proc_dir / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            pids.append(int(proc_dir.name))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + 10
    for pid in pids:
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@dataclass
class Served:
    """A running ``songscape serve``: its URL and everything it printed so far."""

    url: str
    log: list[str]


@contextmanager
def songscape_serve(library: Path, *args: str, timeout: float = 120) -> Iterator[Served]:
    """The real ``songscape serve --port 0 --no-browser`` on ``library`` in a subprocess,
    stopped afterwards. Yields its URL (``http://127.0.0.1:PORT/``) and its output, read
    on by a thread (so that a chatty server never blocks on a full pipe)."""
    import re
    import threading

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "songscape.cli", "--library", str(library), "serve",
         "--port", "0", "--no-browser", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        url = None
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
            if m:
                url = m.group(1)
        if url is None:
            pytest.fail("the server did not start:\n" + "".join(lines))
        threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
        yield Served(url, lines)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
