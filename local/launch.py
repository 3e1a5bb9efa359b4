"""Start `make run`'s runner in a subprocess and stop it again, whole process group and all.

The end-to-end tests and `make bench` both drive the runner over HTTP; this is their one way to
launch it. A runner and its worker processes share one process group, so that stopping it, also
after a failed start, leaves nothing running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent

READY_DEADLINE_SECONDS = 60  # for a hang, not for speed: a loaded machine may take a while
STOP_DEADLINE_SECONDS = 15
WORKERS_GONE_DEADLINE_SECONDS = 5


class RunnerError(RuntimeError):
    """The runner did not start, or did not stop cleanly."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LaunchedRunner:
    process: subprocess.Popen[bytes]
    url: str
    stdout_path: Path
    stderr_path: Path

    def outbox(self) -> list[dict[str, Any]]:
        import json

        with urllib.request.urlopen(self.url + "/_local/outbox", timeout=10) as reply:  # noqa: S310 (loopback)
            return list(json.load(reply)["messages"])

    def logs(self) -> str:
        """The service's logs, as CloudWatch would receive them (the runner's stdout)."""
        return self.stdout_path.read_text()

    def terminal(self) -> str:
        """The banner and the delivered messages (the runner's stderr)."""
        return self.stderr_path.read_text()


RunnerT = TypeVar("RunnerT", bound=LaunchedRunner)


def answers(runner: LaunchedRunner) -> bool:
    try:
        with urllib.request.urlopen(runner.url + "/_local/outbox", timeout=5):  # noqa: S310 (loopback)
            return True
    except urllib.error.HTTPError:
        return True  # an error page is still an answer
    except (urllib.error.URLError, OSError):
        return False


def wait_until_ready(runner: LaunchedRunner) -> None:
    """The runner answers only once every worker has imported its handlers."""
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    while not answers(runner):
        if runner.process.poll() is not None or time.monotonic() > deadline:
            raise RunnerError(f"the runner did not start:\n{runner.terminal()}")
        time.sleep(0.1)


def start(
    log_dir: Path,
    settings: Mapping[str, str],
    kind: type[RunnerT],
    until_ready: Callable[[RunnerT], None] = wait_until_ready,
) -> RunnerT:
    """A runner on a free port of 127.0.0.1, answering; ``settings`` on top of this shell's environment.

    The shell's OTP_* and AWS_* variables are left out: a runner is configured by ``settings`` alone.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTP_", "AWS_"))}
    env.update({"PORT": str(port), "PYTHONUNBUFFERED": "1"})
    env.update(settings)
    stdout_path, stderr_path = log_dir / f"runner-{port}.out", log_dir / f"runner-{port}.err"
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.runner"],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own process group, with its workers
        )
    runner = kind(process, f"http://127.0.0.1:{port}", stdout_path, stderr_path)
    try:
        until_ready(runner)
    except BaseException:
        # Whatever went wrong, the runner and its workers must not outlive the failed start.
        kill_group(runner.process)
        raise
    return runner


def stop(runner: LaunchedRunner) -> None:
    """Stop the runner as Ctrl-C would, then make sure none of its processes is left."""
    if runner.process.poll() is None:
        runner.process.send_signal(signal.SIGTERM)
        try:
            runner.process.wait(timeout=STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            kill_group(runner.process)
    # The workers (and multiprocessing's resource tracker) are the runner's children: none may
    # outlive it. They notice the runner is gone within moments.
    deadline = time.monotonic() + WORKERS_GONE_DEADLINE_SECONDS
    while group_alive(runner.process.pid):
        if time.monotonic() > deadline:
            kill_group(runner.process)
            raise RunnerError("the runner left processes behind")
        time.sleep(0.05)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def group_alive(group: int) -> bool:
    """Whether a process of ``group`` still runs. A zombie does not: it holds nothing and runs
    nothing, and once the runner has exited its zombies wait for init, which may reap them late."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its last ")".
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
            if int(pgrp) == group and state != "Z":
                return True
    return False
