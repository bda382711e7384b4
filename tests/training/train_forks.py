"""A fork server for killing ``songscape train`` at chosen moments (issue 16).

Importing torch's optimiser stack (``torch._dynamo``) takes 10 s or more on the shared
2-core machine: a fresh process per kill would spend every kill in imports. This module,
run as ``python -m tests.training.train_forks``, imports the CLI and the trainer once,
then forks one child per command line it reads on stdin: the child runs
``songscape ARGV`` (the CLI's ``main``, output to a log) and exits with its code. The
server writes ``PID <pid>`` when a child starts and ``EXIT <code>`` when it ends
(``-9``: killed by SIGKILL), so the test can kill the child by its id.

:class:`TrainForks` is the test's side.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: A run not ended after this long is killed (each takes seconds): the test then fails.
HANG_S = 180.0


@dataclass
class TrainRun:
    """How a child ended: ``killed`` by SIGKILL, else its ``exit_code``; its output."""

    killed: bool
    exit_code: int | None
    seconds: float
    output: str


def _serve() -> None:
    """The server loop (the module's ``__main__``)."""
    import librosa.core  # noqa: F401 - with numba: what `train` imports on its way
    import librosa.effects  # noqa: F401
    import librosa.feature  # noqa: F401
    import librosa.filters  # noqa: F401
    import rich.progress  # noqa: F401
    import torch
    import torch._dynamo  # noqa: F401 - what AdamW imports on first use: the slow part

    import songscape.cli
    import songscape.cli.train_cmds
    import songscape.library.library
    import songscape.training.trainer  # noqa: F401

    torch.set_num_threads(1)
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child: run the CLI, never return into the loop
            code = 99
            try:
                fd = os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.environ.update(command.get("env", {}))
                code = songscape.cli.main(command["argv"])
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(f"PID {pid}", flush=True)
        sys.stdin.readline()  # the test says when to reap: until then the pid stays its
        _, status = os.waitpid(pid, 0)
        print(f"EXIT {os.waitstatus_to_exitcode(status)}", flush=True)


class TrainForks:
    """The fork server in a subprocess; :meth:`run` runs (and maybe kills) one command."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.training.train_forks"], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, **env},
        )  # fmt: skip

    def _line(self, prefix: str) -> int:
        line = self.proc.stdout.readline()
        if not line.startswith(prefix):
            raise RuntimeError(f"fork server: expected {prefix!r}, got {line!r}")
        return int(line.split()[1])

    def run(
        self,
        argv: list[str],
        log: Path,
        kill_after_s: float | None = None,
        kill_when: Callable[[], bool] | None = None,
    ) -> TrainRun:
        """``songscape ARGV`` in a child; SIGKILL it after ``kill_after_s`` seconds (None:
        let it finish, killing it only after :data:`HANG_S`), or as soon as ``kill_when()``
        (polled every millisecond) holds."""
        self.proc.stdin.write(json.dumps({"argv": argv, "log": str(log), "env": self.env}) + "\n")
        self.proc.stdin.flush()
        pid = self._line("PID")
        t0 = time.perf_counter()
        # The server reaps the child only when told, so this pid is the child's until then.
        pidfd = os.pidfd_open(pid)
        try:
            deadline = t0 + (kill_after_s if kill_after_s is not None else HANG_S)
            while not select.select([pidfd], [], [], 0.001)[0]:  # readable: it has ended
                if time.perf_counter() > deadline or (kill_when is not None and kill_when()):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                    break
        finally:
            os.close(pidfd)
        self.proc.stdin.write("reap\n")
        self.proc.stdin.flush()
        code = self._line("EXIT")
        seconds = time.perf_counter() - t0
        text = log.read_text(errors="replace") if log.exists() else ""
        return TrainRun(code == -9, code if code >= 0 else None, seconds, text)

    def close(self) -> None:
        """End the server (its stdin closes; it exits when its loop ends)."""
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    _serve()
